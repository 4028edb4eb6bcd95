// The local side of stdin and the terminal for `remsh run`: what kind of file stdin is, raw
// mode for --pty, the window size, and restoring descriptor flags that Asio changes.
#pragma once

#include <optional>

#include <termios.h>

namespace remsh::cli {

enum class InputKind {
    tty,     // a terminal
    stream,  // a pipe or a socket: read through the io_context
    file,    // a regular file, /dev/null, another device: plain blocking reads
    closed,  // not open
};

InputKind input_kind(int fd);

struct WindowSize {
    int cols = 80;
    int rows = 24;
};
// The terminal's size, when `fd` is a terminal that knows it.
std::optional<WindowSize> window_size(int fd);

// Raw mode on a terminal for the object's lifetime (the remote pty does the line editing,
// echo and Ctrl-C).
class RawMode {
public:
    explicit RawMode(int fd);
    ~RawMode();
    RawMode(const RawMode&) = delete;
    RawMode& operator=(const RawMode&) = delete;

private:
    int fd_;
    bool active_ = false;
    termios saved_{};
};

// Restores a descriptor's file status flags (O_NONBLOCK) at the end of its lifetime: Asio
// makes stdin non-blocking, which a terminal shares with stdout and with the parent shell.
class FdFlagsGuard {
public:
    explicit FdFlagsGuard(int fd);
    ~FdFlagsGuard();
    FdFlagsGuard(const FdFlagsGuard&) = delete;
    FdFlagsGuard& operator=(const FdFlagsGuard&) = delete;

private:
    int fd_;
    int flags_;
};

}  // namespace remsh::cli
