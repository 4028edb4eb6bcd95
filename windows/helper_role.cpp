// platform/helper_role.hpp on Windows: `--pty-shim` (pty_shim.hpp) and `--service NAME`
// (service.hpp) come before the agent's own arguments.
#include "platform/helper_role.hpp"

#include <cstring>

#include "pty_shim.hpp"
#include "service.hpp"

namespace remsh::agent {

std::optional<int> run_helper_role(int argc, char** argv, const AgentMain& agent_main) {
  if (argc >= 2 && std::strcmp(argv[1], kPtyShimFlag) == 0) return run_pty_shim();
  if (argc >= 3 && std::strcmp(argv[1], kServiceFlag) == 0) {
    // The agent's own arguments follow the service's name; the program's name stays first.
    const std::string name = argv[2];
    argv[2] = argv[0];
    return run_as_service(name, argc - 2, argv + 2, agent_main);
  }
  return std::nullopt;
}

}  // namespace remsh::agent
