// The exit codes of `remsh` (also in `remsh --help`):
//   0        success (for `run`: the remote command exited 0)
//   1..125   `run`, `shell`: the remote command's own exit code; `job submit --wait` and
//            `job logs -f`: 1 when the job did not succeed
//   2        bad command line (CLI11's message); also a remote command's exit code 2
//   127      `run`: the command could not be started on the agent (exec-failed)
//   128+N    `run`: the remote command was killed by signal N (INT 130, KILL 137, TERM 143);
//            other commands: remsh was interrupted by signal N (INT, TERM, HUP) and cleaned up
//   255      any other error: master unreachable, unauthorized, agent unknown or offline,
//            command lost or cancelled, connection lost, TLS failures...
#pragma once

#include <string_view>

namespace remsh::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_usage = 2;
inline constexpr int exit_job_failed = 1;
inline constexpr int exit_exec_failed = 127;
inline constexpr int exit_error = 255;

// 127 for "exec-failed", 255 for every other error tag.
int exit_code_for_error_tag(std::string_view tag);

}  // namespace remsh::cli
