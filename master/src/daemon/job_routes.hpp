// The API's job routes (docs/api.md, "Jobs"): submit a recipe, list and show jobs with their
// steps, cancel. Logs are the steps' commands' logs (GET /api/v1/commands/ID/log).
#pragma once

#include <boost/json/object.hpp>

#include <optional>

#include "daemon/admin_routes.hpp"
#include "daemon/job_scheduler.hpp"

namespace remsh::master {

// The response body, or nullopt when no job route matches. Throws ApiError.
std::optional<boost::json::object> handle_job_route(StateDir& state, JobScheduler& jobs,
                                                    const AdminRequest& request);

}  // namespace remsh::master
