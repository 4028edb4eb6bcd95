// platform/helper_role.hpp: the POSIX agent has no helper roles.
#include "platform/helper_role.hpp"

namespace remsh::agent {

std::optional<int> run_helper_role(int, char**, const AgentMain&) { return std::nullopt; }

}  // namespace remsh::agent
