// Talking to a running agent from another `remsh-agent` process (`remsh-agent stop`): the
// running agent records its process id in its config dir; the stopper asks it to stop,
// at once (like SIGTERM) or gracefully (finish what runs, accept nothing new, then leave).
#pragma once

#include <optional>
#include <string>

namespace remsh::agent {

long current_process_id();
bool process_exists(long pid);
// Asks process `pid` to stop; an error text when it cannot be asked.
std::optional<std::string> request_stop(long pid, bool graceful);

}  // namespace remsh::agent
