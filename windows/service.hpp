// The agent as a Windows service: `remsh-agent.exe --service NAME run --config-dir DIR ...`
// (with --log-file DIR\agent.log: a service has no stderr) is the command line install-service
// registers. Started so by the Service Control Manager,
// the process runs the agent under StartServiceCtrlDispatcherW; a stop or shutdown control
// becomes the agent's immediate stop request (its commands' trees are killed, the master
// is told goodbye), and the service reports stopped once the agent is done.
#pragma once

#include <string>

#include "platform/helper_role.hpp"

namespace remsh::agent {

inline constexpr char kServiceFlag[] = "--service";

// The agent's exit code (or 1 when the process was not started by the SCM).
int run_as_service(const std::string& name, int argc, char** argv, const AgentMain& agent_main);

}  // namespace remsh::agent
