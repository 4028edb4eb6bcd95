// A transfer's progress line on stderr, like scp's: shown only when stderr is a terminal and
// the transfer has taken more than a second, redrawn at most ten times a second, ended with
// a newline. Silent otherwise, so scripts and logs see nothing of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace remsh::cli {

class Progress {
public:
    // total 0: unknown (no percentage).
    Progress(std::string label, std::uint64_t total);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void add(std::uint64_t bytes);
    void finish();

private:
    void draw(bool final);

    using Clock = std::chrono::steady_clock;
    std::string label_;
    std::uint64_t total_;
    std::uint64_t done_ = 0;
    bool enabled_;
    bool shown_ = false;
    bool finished_ = false;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_draw_{};
};

// "1.5 GB", "12.0 MB", "300 B" (10^n units, as the benchmarks use).
std::string human_bytes(std::uint64_t bytes);

}  // namespace remsh::cli
