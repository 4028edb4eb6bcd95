// platform/process_control.hpp on Windows. There are no signals between processes: an
// immediate stop ends the agent's process (its Job Objects then kill every child it ran,
// kill-on-close), and a graceful one is asked for through a named event the running agent
// waits on (stop_events.hpp).
#include "platform/process_control.hpp"

#include <windows.h>

#include "stop_events.hpp"
#include "wide.hpp"

namespace remsh::agent {

long current_process_id() { return static_cast<long>(GetCurrentProcessId()); }

bool process_exists(long pid) {
  if (pid <= 0) return false;
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
  if (!h) return GetLastError() == ERROR_ACCESS_DENIED;
  const bool running = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  CloseHandle(h);
  return running;
}

std::optional<std::string> request_stop(long pid, bool graceful) {
  if (pid <= 0) return "no process id";
  HANDLE event = OpenEventW(EVENT_MODIFY_STATE, FALSE, win::stop_event_name(pid, graceful).c_str());
  if (!event) return "the agent does not listen for stop requests: " + win::error_text(GetLastError());
  const BOOL ok = SetEvent(event);
  const DWORD error = GetLastError();
  CloseHandle(event);
  if (!ok) return win::error_text(error);
  return std::nullopt;
}

std::optional<int> graceful_stop_signal() { return std::nullopt; }

}  // namespace remsh::agent
