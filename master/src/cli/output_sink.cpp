#include "output_sink.hpp"

#include "fd_io.hpp"

namespace remsh::cli {

namespace {

constexpr int stream_stdout = 1;
constexpr int stream_stderr = 2;
constexpr int stream_terminal = 3;

bool write_stdout(bool& closed, std::string_view bytes) {
    if (closed) {
        return false;
    }
    if (write_all(1, bytes) != WriteResult::ok) {  // gone (EPIPE) or failing (see output_failure())
        closed = true;
        return false;
    }
    return true;
}

}  // namespace

void print_error(std::string_view tag, std::string_view message) {
    std::string line = "remsh: ";
    line += tag;
    line += ": ";
    line += message;
    line += '\n';
    (void)write_all(2, line);
}

bool DirectSink::write(int stream, std::string_view bytes) {
    switch (stream) {
    case stream_stdout:
    case stream_terminal:
        return write_stdout(stdout_closed_, bytes);
    case stream_stderr:
        (void)write_all(2, bytes);
        return true;
    default:
        return true;
    }
}

void DirectSink::error(std::string_view tag, std::string_view message) { print_error(tag, message); }

PrefixedSink::PrefixedSink(const std::string& name)
    : prefix_("[" + name + "] "), out_(prefix_), err_(prefix_) {}

bool PrefixedSink::write(int stream, std::string_view bytes) {
    switch (stream) {
    case stream_stdout:
    case stream_terminal:
        return write_stdout(stdout_closed_, out_.feed(bytes));
    case stream_stderr:
        (void)write_all(2, err_.feed(bytes));
        return true;
    default:
        return true;
    }
}

void PrefixedSink::finish() {
    (void)write_stdout(stdout_closed_, out_.finish());
    (void)write_all(2, err_.finish());
}

void PrefixedSink::error(std::string_view tag, std::string_view message) {
    std::string line = prefix_ + "remsh: ";
    line += tag;
    line += ": ";
    line += message;
    line += '\n';
    (void)write_all(2, line);
}

}  // namespace remsh::cli
