#include "posix/sigpipe.hpp"

#include <signal.h>

#include <cstring>
#include <mutex>

namespace remsh::agent::posix_detail {

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current;
    std::memset(&current, 0, sizeof current);
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
        current.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace remsh::agent::posix_detail
