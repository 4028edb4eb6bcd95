// The agent's console-shim role, for commands on a pseudo console (child_process.cpp).
//
// A process started on a ConPTY should find the console as its standard handles; Wine's
// ConPTY does not arrange that (the child inherits the agent's own handles or none), so the
// pty's first process is `remsh-agent.exe --pty-shim COMMAND-LINE`: it opens CONIN$ and
// CONOUT$, starts COMMAND-LINE with them as its std handles (in the same job, with the same
// environment and directory) and exits with its exit code. On Windows it costs one small
// process and behaves the same.
#pragma once

#include <string>

namespace remsh::agent {

inline constexpr char kPtyShimFlag[] = "--pty-shim";

// `"<this exe>" --pty-shim COMMAND-LINE`.
std::wstring pty_shim_command_line(const std::wstring& command_line);
// The shim itself, in a process started with the flag (helper_role.cpp): its exit code.
int run_pty_shim();

}  // namespace remsh::agent
