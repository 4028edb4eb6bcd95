#include "daemon/api_roles.hpp"

namespace remsh::master {

std::optional<Role> role_from_name(std::string_view name) {
  if (name == "viewer") return Role::viewer;
  if (name == "operator") return Role::operator_;
  if (name == "admin") return Role::admin;
  return std::nullopt;
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::viewer: return "viewer";
    case Role::operator_: return "operator";
    case Role::admin: return "admin";
  }
  return "?";
}

Role required_role(std::string_view method, std::string_view path) {
  // Streams that act on agents.
  if (path == "/api/v1/run" || path == "/api/v1/fs") return Role::operator_;
  // Shell recordings show what people typed and saw: for those who may open shells.
  if (method == "GET" && (path == "/api/v1/shell-sessions" || path.rfind("/api/v1/shell-sessions/", 0) == 0)) {
    return Role::operator_;
  }
  // Everything else that only reads is open to viewers; anything that changes state other
  // than running work is administration. Unknown paths get the strictest role, so a route
  // added later without a thought here fails closed.
  // Jobs: submitting and cancelling is work; reading them is for everyone.
  const auto ends_with = [&](std::string_view tail) {
    return path.size() > tail.size() && path.substr(path.size() - tail.size()) == tail;
  };
  if (method == "POST" && (path == "/api/v1/jobs" || (path.rfind("/api/v1/jobs/", 0) == 0 &&
                                                      (ends_with("/cancel") || ends_with("/release"))))) {
    return Role::operator_;
  }
  // Secrets (/api/v1/secrets...) stay with the default: administration. Repositories: anyone
  // may read them, operators fetch them, admins declare and remove them.
  if (method == "GET" && (path == "/api/v1/repos" || path.rfind("/api/v1/repos/", 0) == 0)) return Role::viewer;
  if (method == "POST" && path.rfind("/api/v1/repos/", 0) == 0 && ends_with("/fetch")) return Role::operator_;
  if (method == "GET" && (path == "/api/v1/jobs" || path.rfind("/api/v1/jobs/", 0) == 0)) return Role::viewer;
  if (method == "GET") {
    if (path == "/api/v1/agents" || path.rfind("/api/v1/agents/", 0) == 0) return Role::viewer;
    if (path == "/api/v1/commands" || path.rfind("/api/v1/commands/", 0) == 0) return Role::viewer;
  }
  return Role::admin;
}

}  // namespace remsh::master
