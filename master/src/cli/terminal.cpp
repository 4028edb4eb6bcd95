#include "terminal.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remsh::cli {

InputKind input_kind(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return InputKind::closed;
    }
    if (::isatty(fd) != 0) {
        return InputKind::tty;
    }
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
        return InputKind::stream;
    }
    return InputKind::file;
}

std::optional<WindowSize> window_size(int fd) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) {
        return std::nullopt;
    }
    return WindowSize{ws.ws_col, ws.ws_row};
}

RawMode::RawMode(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) {
        return;
    }
    termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd_, TCSADRAIN, &raw) == 0) {
        active_ = true;
    }
}

RawMode::~RawMode() {
    if (active_) {
        ::tcsetattr(fd_, TCSADRAIN, &saved_);
    }
}

FdFlagsGuard::FdFlagsGuard(int fd) : fd_(fd), flags_(::fcntl(fd, F_GETFL)) {}

FdFlagsGuard::~FdFlagsGuard() {
    if (flags_ != -1) {
        ::fcntl(fd_, F_SETFL, flags_);
    }
}

}  // namespace remsh::cli
