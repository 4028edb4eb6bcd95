// Roles of the agent's executable other than the agent itself, which the platform code
// starts it in (Windows: the console shim of a pty, windows/pty_shim.hpp). One file to ship
// stays one file.
#pragma once

#include <optional>

namespace remsh::agent {

// The role's exit code when this process was started in one; nullopt for an ordinary start.
std::optional<int> run_helper_role(int argc, char** argv);

}  // namespace remsh::agent
