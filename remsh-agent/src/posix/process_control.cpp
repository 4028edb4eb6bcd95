#include "platform/process_control.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <unistd.h>

namespace remsh::agent {

long current_process_id() { return static_cast<long>(getpid()); }

bool process_exists(long pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::optional<std::string> request_stop(long pid, bool graceful) {
  if (pid <= 0) return "no process id";
  if (kill(static_cast<pid_t>(pid), graceful ? SIGUSR1 : SIGTERM) != 0) return std::string(std::strerror(errno));
  return std::nullopt;
}


}  // namespace remsh::agent
