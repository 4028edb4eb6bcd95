// Durations given on the command line: "30s", "10m", "2h", "7d", "1w", compounds like "1h30m",
// or a bare number of seconds ("90").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace remsh::cli {

// The duration in seconds; nullopt when the text is not a duration (empty, unknown unit, a
// negative or fractional number, or more than ~292 billion years).
std::optional<std::int64_t> parse_duration_s(std::string_view text);

// A short human form of a number of seconds: 45 -> "45s", 7200 -> "2h", 5400 -> "1h30m".
std::string format_duration_s(std::int64_t seconds);

}  // namespace remsh::cli
