// Where a remote command's output goes: straight to our stdout/stderr (`remsh run AGENT`,
// `remsh logs ID`), or line by line with an "[agent] " prefix (`remsh run --label L`).
// Streams as on the WebSocket: 1 stdout, 2 stderr, 3 terminal (shown on stdout).
#pragma once

#include "line_prefixer.hpp"

#include <string>
#include <string_view>

namespace remsh::cli {

class OutputSink {
public:
    virtual ~OutputSink() = default;
    // Writes the bytes of `stream` (unknown streams are dropped). False when our stdout is gone
    // (its reader closed the pipe) or failing (a full disk: output_failure() in fd_io.hpp says
    // so); the bytes are then dropped, and so is the rest of stdout.
    virtual bool write(int stream, std::string_view bytes) = 0;
    // The output is complete: flush what is held back.
    virtual void finish() {}
    // Reports an error: "remsh: <tag>: <message>" on stderr.
    virtual void error(std::string_view tag, std::string_view message) = 0;
};

// Bytes go to fd 1 / fd 2 as they come, unchanged.
class DirectSink final : public OutputSink {
public:
    bool write(int stream, std::string_view bytes) override;
    void error(std::string_view tag, std::string_view message) override;

private:
    bool stdout_closed_ = false;
};

// Every line gets "[name] "; a partial line waits for its end (or finish()), per stream.
class PrefixedSink final : public OutputSink {
public:
    explicit PrefixedSink(const std::string& name);
    bool write(int stream, std::string_view bytes) override;
    void finish() override;
    void error(std::string_view tag, std::string_view message) override;

private:
    std::string prefix_;
    LinePrefixer out_;
    LinePrefixer err_;
    bool stdout_closed_ = false;
};

// "remsh: <tag>: <message>\n" on stderr.
void print_error(std::string_view tag, std::string_view message);

}  // namespace remsh::cli
