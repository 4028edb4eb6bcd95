// The API's repositories (docs/api.md, "Repositories"): declared by admins, mirrored by the
// master, fetched when a job needs them or on demand. Adding one fetches it at once, so a
// wrong URL is an error now rather than a failed job later.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <optional>

#include "daemon/admin_routes.hpp"

namespace remsh::master {

// Whether `path` is one of these routes.
bool is_repo_route(const std::string& path);
// The response body (nullopt: no route matched). Throws ApiError.
boost::asio::awaitable<std::optional<boost::json::object>> handle_repo_route(StateDir& state, AdminRequest request);

}  // namespace remsh::master
