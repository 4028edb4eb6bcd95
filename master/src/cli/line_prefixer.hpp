// Prefixing every output line of one stream (e.g. "[agent1] "), for output that arrives in
// arbitrary chunks: complete lines go out at once, a partial line waits for its end.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace remsh::cli {

class LinePrefixer {
public:
    // A partial line longer than `max_partial` bytes is emitted (with a newline added) rather
    // than buffered without bound.
    explicit LinePrefixer(std::string prefix, std::size_t max_partial = 1 << 20);

    // The complete lines in `data` (with any buffered start), each with the prefix and its
    // '\n'; the bytes after the last '\n' are kept for later. Binary-safe.
    std::string feed(std::string_view data);

    // The buffered partial line, prefixed and ended with '\n'; empty when nothing is buffered.
    std::string finish();

    bool has_partial() const { return !partial_.empty(); }

private:
    std::string prefix_;
    std::string partial_;
    std::size_t max_partial_;
};

}  // namespace remsh::cli
