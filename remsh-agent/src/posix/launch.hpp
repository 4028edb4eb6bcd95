// launch(): the fork/exec half of the POSIX ChildProcess, without Asio.
//
// Everything the child needs (argv, envp, the PATH candidates, file descriptors) is prepared
// before fork(); between fork() and exec the child only makes async-signal-safe calls, so
// launching from a multi-threaded agent is safe. Every descriptor the parent keeps is
// O_CLOEXEC; the child's ends are moved above 2 before fork so the dup2() onto 0/1/2 can
// never clobber one another.
#pragma once

#include "platform/child_process.hpp"
#include "posix/unique_fd.hpp"

#include <sys/types.h>

#include <string>

namespace remsh::agent::posix_detail {

struct LaunchedChild {
  pid_t pid = -1;
  UniqueFd stdin_write;  // set when spec.stdin_pipe and no pty
  UniqueFd stdout_read;  // set without pty
  UniqueFd stderr_read;  // set without pty
  UniqueFd pty_master;   // set with pty: stdin, stdout and stderr of the child
};

// Starts the child: it leads a new session (setsid(), so its pid is its process group id)
// and, with a pty, has the pty as controlling terminal. Returns false and fills `error`
// when the process could not be started; the failed child is already reaped then.
bool launch(const ProcessSpec& spec, LaunchedChild& out, SpawnError& error);

// The name of a signal without "SIG" ("KILL", "SEGV", ...), or its number as a string.
std::string signal_name(int signal_number);

}  // namespace remsh::agent::posix_detail
