#include "fd_io.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace remsh::cli {

namespace {

std::optional<OutputFailure> first_failure;
bool closed_at_start[3] = {false, false, false};

WriteResult failed(int fd) {
    if ((fd == 1 || fd == 2) && !first_failure) {
        first_failure = OutputFailure{fd, errno};
    }
    return WriteResult::error;
}

}  // namespace

std::optional<OutputFailure> output_failure() { return first_failure; }

std::string describe(const OutputFailure& failure) {
    return std::string("cannot write ") + (failure.fd == 1 ? "stdout" : "stderr") + ": " +
           std::strerror(failure.error);
}

void mark_output_failure_reported() {
    if (first_failure) {
        first_failure->reported = true;
    }
}

void guard_standard_descriptors() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) {
            continue;
        }
        // open() takes the lowest free number: this one, as the lower ones are open by now.
        const int opened = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (opened != fd && opened >= 0) {
            ::close(opened);
        }
        closed_at_start[fd] = true;
    }
}

WriteResult write_all(int fd, std::string_view data) {
    if ((fd == 1 || fd == 2) && closed_at_start[fd] && !data.empty()) {
        errno = EBADF;
        return failed(fd);
    }
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
                return failed(fd);
            }
            continue;
        }
        if (n < 0 && errno == EPIPE) {
            return WriteResult::closed;
        }
        if (n == 0) {
            errno = EIO;  // write(2) wrote nothing and said nothing: do not spin
        }
        return failed(fd);
    }
    return WriteResult::ok;
}

}  // namespace remsh::cli
