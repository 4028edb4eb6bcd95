#include "duration.hpp"

#include <limits>

namespace remsh::cli {

namespace {

std::optional<std::int64_t> unit_seconds(char unit) {
    switch (unit) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 7 * 86400;
    default: return std::nullopt;
    }
}

}  // namespace

std::optional<std::int64_t> parse_duration_s(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    // A bare number is seconds; otherwise every number needs its unit ("1h30" is refused).
    const bool bare = text.find_first_not_of("0123456789") == std::string_view::npos;
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') {
            return std::nullopt;  // a unit without a number, a sign, a dot, a space...
        }
        std::int64_t number = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            const int digit = text[i] - '0';
            if (number > (max - digit) / 10) {
                return std::nullopt;
            }
            number = number * 10 + digit;
            ++i;
        }
        std::int64_t unit = 1;
        if (!bare) {
            const auto u = i < text.size() ? unit_seconds(text[i]) : std::nullopt;
            if (!u) {
                return std::nullopt;
            }
            unit = *u;
            ++i;
        }
        if (number > max / unit || total > max - number * unit) {
            return std::nullopt;
        }
        total += number * unit;
    }
    return total;
}

std::string format_duration_s(std::int64_t seconds) {
    if (seconds <= 0) {
        return "0s";
    }
    struct Unit {
        std::int64_t size;
        char name;
    };
    static constexpr Unit units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    std::string out;
    int parts = 0;
    for (const Unit& u : units) {
        if (seconds >= u.size && parts < 2) {
            out += std::to_string(seconds / u.size);
            out += u.name;
            seconds %= u.size;
            ++parts;
        } else if (parts > 0) {
            ++parts;  // only two adjacent units: "1d2h", never "1d0h5s"
        }
    }
    return out;
}

}  // namespace remsh::cli
