// API token roles (docs/api.md, "Roles"). Each includes the ones below it:
//   viewer    reads: agents, commands, logs
//   operator  + runs commands, moves files, opens shells and reads their recordings (and
//             later runs jobs)
//   admin     + enrollment tokens, API tokens, agent administration
// The admin token written at the first start has the admin role.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace remsh::master {

enum class Role { viewer = 0, operator_ = 1, admin = 2 };

std::optional<Role> role_from_name(std::string_view name);
std::string_view role_name(Role role);
inline bool role_allows(Role have, Role need) { return static_cast<int>(have) >= static_cast<int>(need); }

// The role a request needs: by method and path (without the query). WebSocket upgrades are
// GETs of their stream's path.
Role required_role(std::string_view method, std::string_view path);

}  // namespace remsh::master
