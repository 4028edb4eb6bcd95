// The API's plain JSON routes about agents and tokens (docs/api.md): listing and showing
// agents, their administration (approve, drain, resume, revoke, rename, labels, messages to
// their owners), enrollment tokens and API tokens. Streams (run, fs, logs) live in
// api_server.cpp. Kept free of Beast: the caller has checked the token and its role.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>

#include "daemon/agent_hub.hpp"
#include "daemon/api_error.hpp"
#include "daemon/api_roles.hpp"
#include "daemon/state_dir.hpp"

namespace remsh::master {

struct AdminRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string path;    // without the query
  const boost::json::object* body = nullptr;  // POST: the parsed body
  std::string caller;  // the API token's id (who sent a message)
};

// The response body, or nullopt when no route here matches. Throws ApiError.
std::optional<boost::json::object> handle_admin_route(StateDir& state, AgentHub& hub,
                                                      const AdminRequest& request);

// An id in a path or query: 1 to 18 digits; nullopt otherwise.
std::optional<std::int64_t> parse_id(const std::string& text);

// GET /api/v1/agents.
boost::json::object agents_json(StateDir& state, AgentHub& hub);

}  // namespace remsh::master
