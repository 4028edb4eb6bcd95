// The API's secret store (docs/api.md, "Secrets"): job secrets set, listed (names only) and
// deleted by admins. Values go in sealed by the SecretBox and come out only into a job's
// environment; no route ever returns one.
#pragma once

#include <boost/json/object.hpp>

#include <optional>

#include "daemon/admin_routes.hpp"
#include "daemon/secret_name.hpp"

namespace remsh::master {

// The response body, or nullopt when no secret route matches. Throws ApiError.
std::optional<boost::json::object> handle_secret_route(StateDir& state, const AdminRequest& request);

}  // namespace remsh::master
