// The platform shell that runs an exec's `shell` command line (docs/protocol.md 9.5):
// `/bin/sh -c LINE` on POSIX (posix/shell.cpp), `cmd.exe /d /s /c LINE` on Windows.
#pragma once

#include <string>
#include <vector>

namespace remsh::agent {

std::vector<std::string> shell_argv(const std::string& command_line);
// A debug shell with no command (exec `interactive`): the agent user's login shell.
std::vector<std::string> login_shell_argv();

}  // namespace remsh::agent
