// The named events through which `remsh-agent stop` asks a running agent to stop (Windows
// has no signals between processes): one for an immediate stop, one for a graceful one,
// each named after the running agent's process id.
#pragma once

#include <string>

namespace remsh::agent::win {

inline std::wstring stop_event_name(long pid, bool graceful) {
  return (graceful ? L"remsh-agent-leave-" : L"remsh-agent-stop-") + std::to_wstring(pid);
}

}  // namespace remsh::agent::win
