#include "platform/process_control.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>

namespace remsh::agent {

long current_process_id() { return static_cast<long>(getpid()); }

namespace {

// An exited process its parent has not reaped yet (a zombie) still answers kill(pid, 0), but
// it is gone for every purpose here (`remsh-agent stop` waiting for it to end).
bool is_zombie(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;  // no /proc: only kill() tells
  const auto paren = line.rfind(')');           // the name may hold spaces and parentheses
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

}  // namespace

bool process_exists(long pid) {
  if (pid <= 0) return false;
  return (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) && !is_zombie(pid);
}

std::optional<std::string> request_stop(long pid, bool graceful) {
  if (pid <= 0) return "no process id";
  if (kill(static_cast<pid_t>(pid), graceful ? SIGUSR1 : SIGTERM) != 0) return std::string(std::strerror(errno));
  return std::nullopt;
}


}  // namespace remsh::agent
