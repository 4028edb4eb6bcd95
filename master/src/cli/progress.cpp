#include "progress.hpp"

#include "fd_io.hpp"

#include <cstdio>

#include <unistd.h>

namespace remsh::cli {

std::string human_bytes(std::uint64_t bytes) {
    char buf[32];
    const double b = static_cast<double>(bytes);
    if (bytes >= 1000000000ull) {
        std::snprintf(buf, sizeof buf, "%.1f GB", b / 1e9);
    } else if (bytes >= 1000000ull) {
        std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
    } else if (bytes >= 1000ull) {
        std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    }
    return buf;
}

Progress::Progress(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(2) == 1) {}

Progress::~Progress() { finish(); }

void Progress::add(std::uint64_t bytes) {
    done_ += bytes;
    if (!enabled_) {
        return;
    }
    const auto now = Clock::now();
    if (now - start_ < std::chrono::seconds(1) || now - last_draw_ < std::chrono::milliseconds(100)) {
        return;
    }
    last_draw_ = now;
    draw(false);
}

void Progress::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (shown_) {
        draw(true);
    }
}

void Progress::draw(bool final) {
    shown_ = true;
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    char line[512];
    if (total_ > 0) {
        std::snprintf(line, sizeof line, "\r%-40.40s %3d%% %10s %10s/s ", label_.c_str(),
                      static_cast<int>(100.0 * static_cast<double>(done_) / static_cast<double>(total_)),
                      human_bytes(done_).c_str(), human_bytes(static_cast<std::uint64_t>(rate)).c_str());
    } else {
        std::snprintf(line, sizeof line, "\r%-40.40s %10s %10s/s ", label_.c_str(), human_bytes(done_).c_str(),
                      human_bytes(static_cast<std::uint64_t>(rate)).c_str());
    }
    std::string text(line);
    if (final) {
        text += "\n";
    }
    (void)write_all(2, text);
}

}  // namespace remsh::cli
