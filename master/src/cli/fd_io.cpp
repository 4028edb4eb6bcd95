#include "fd_io.hpp"

#include <cerrno>

#include <poll.h>
#include <unistd.h>

namespace remsh::cli {

WriteResult write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, -1) < 0 && errno != EINTR) {
                return WriteResult::error;
            }
            continue;
        }
        if (n < 0 && errno == EPIPE) {
            return WriteResult::closed;
        }
        return WriteResult::error;
    }
    return WriteResult::ok;
}

}  // namespace remsh::cli
