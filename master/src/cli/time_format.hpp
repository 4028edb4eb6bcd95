// Times shown to people. The master's times are milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <string>

namespace remsh::cli {

// How long before `now_ms` the time `then_ms` was: "now" (under a second, or in the future),
// "3s ago", "5m ago", "2h ago", "3d ago". "never" when then_ms <= 0.
std::string relative_time(std::int64_t then_ms, std::int64_t now_ms);

// Local time "YYYY-MM-DD HH:MM:SS" (seconds truncated); "-" when ms <= 0.
std::string local_time(std::int64_t ms);

// The current time in milliseconds since the epoch.
std::int64_t now_ms();

}  // namespace remsh::cli
