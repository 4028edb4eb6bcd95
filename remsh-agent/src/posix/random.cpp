// random_hex() (platform/random.hpp): getrandom() where the system has it, /dev/urandom
// otherwise (older kernels, the BSDs without getrandom, containers without the syscall).
#include "platform/random.hpp"

#include <fcntl.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace remsh::agent {
namespace {

bool fill_getrandom(unsigned char* out, std::size_t n) {
#if defined(__linux__)
  while (n > 0) {
    const ssize_t r = ::getrandom(out, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;  // ENOSYS (seccomp, old kernel): fall back
    }
    out += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
#else
  (void)out;
  (void)n;
  return false;
#endif
}

void fill_urandom(unsigned char* out, std::size_t n) {
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("no randomness: cannot open /dev/urandom");
  while (n > 0) {
    const ssize_t r = ::read(fd, out, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      throw std::runtime_error("no randomness: cannot read /dev/urandom");
    }
    out += r;
    n -= static_cast<std::size_t>(r);
  }
  ::close(fd);
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (!fill_getrandom(raw.data(), raw.size())) fill_urandom(raw.data(), raw.size());
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char b : raw) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 15]);
  }
  return hex;
}

}  // namespace remsh::agent
