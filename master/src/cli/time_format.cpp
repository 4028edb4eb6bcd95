#include "time_format.hpp"

#include <chrono>
#include <ctime>

namespace remsh::cli {

std::string relative_time(std::int64_t then_ms, std::int64_t now) {
    if (then_ms <= 0) {
        return "never";
    }
    const std::int64_t seconds = (now - then_ms) / 1000;
    if (seconds < 1) {
        return "now";
    }
    if (seconds < 60) {
        return std::to_string(seconds) + "s ago";
    }
    if (seconds < 3600) {
        return std::to_string(seconds / 60) + "m ago";
    }
    if (seconds < 48 * 3600) {
        return std::to_string(seconds / 3600) + "h ago";
    }
    return std::to_string(seconds / 86400) + "d ago";
}

std::string local_time(std::int64_t ms) {
    if (ms <= 0) {
        return "-";
    }
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    if (localtime_r(&t, &tm) == nullptr) {
        return "-";
    }
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return n == 0 ? std::string("-") : std::string(buf, n);
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace remsh::cli
