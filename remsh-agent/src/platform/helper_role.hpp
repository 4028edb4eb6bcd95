// Roles of the agent's executable other than the agent itself, which the platform code
// starts it in — Windows: the console shim of a pty (windows/pty_shim.hpp), and a service
// started by the Service Control Manager, which runs `agent_main` under its dispatcher
// (windows/service.cpp). One file to ship stays one file.
#pragma once

#include <functional>
#include <optional>

namespace remsh::agent {

// The role's exit code when this process was started in one; nullopt for an ordinary start.
using AgentMain = std::function<int(int argc, char** argv)>;
std::optional<int> run_helper_role(int argc, char** argv, const AgentMain& agent_main);

}  // namespace remsh::agent
