// The API's job routes (docs/api.md, "Jobs"): submit a recipe, list and show jobs with their
// steps, cancel. Logs are the steps' commands' logs (GET /api/v1/commands/ID/log).
#pragma once

#include <boost/json/object.hpp>

#include <functional>
#include <optional>

#include "daemon/admin_routes.hpp"
#include "daemon/job_scheduler.hpp"

namespace remsh::master {

// The response body, or nullopt when no job route matches. Throws ApiError. `shutdown`
// stops the master (POST /api/v1/master/shutdown), after the running jobs when graceful.
std::optional<boost::json::object> handle_job_route(StateDir& state, JobScheduler& jobs,
                                                    const AdminRequest& request,
                                                    const std::function<void()>& shutdown);

}  // namespace remsh::master
