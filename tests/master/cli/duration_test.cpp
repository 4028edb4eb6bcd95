// Durations on the command line (--expires, --timeout).
#include "duration.hpp"

#include <catch2/catch.hpp>

using remsh::cli::format_duration_s;
using remsh::cli::parse_duration_s;

TEST_CASE("durations: each unit", "[cli][duration]") {
    CHECK(parse_duration_s("30s") == 30);
    CHECK(parse_duration_s("10m") == 600);
    CHECK(parse_duration_s("2h") == 7200);
    CHECK(parse_duration_s("7d") == 7 * 86400);
    CHECK(parse_duration_s("1w") == 7 * 86400);
    CHECK(parse_duration_s("0s") == 0);
}

TEST_CASE("durations: a bare number is seconds", "[cli][duration]") {
    CHECK(parse_duration_s("90") == 90);
    CHECK(parse_duration_s("0") == 0);
}

TEST_CASE("durations: compounds add up", "[cli][duration]") {
    CHECK(parse_duration_s("1h30m") == 5400);
    CHECK(parse_duration_s("1d2h3m4s") == 86400 + 7200 + 180 + 4);
    CHECK(parse_duration_s("90m") == 5400);
}

TEST_CASE("durations: malformed text is refused", "[cli][duration]") {
    for (const char* bad : {"", "s", "h1", "1x", "1.5h", "-1s", "+1s", "1h30", " 1s", "1s ",
                            "1 s", "1H", "ten", "1hh"}) {
        INFO(bad);
        CHECK_FALSE(parse_duration_s(bad).has_value());
    }
}

TEST_CASE("durations: overflow is refused", "[cli][duration]") {
    CHECK_FALSE(parse_duration_s("99999999999999999999").has_value());
    CHECK_FALSE(parse_duration_s("9223372036854775807w").has_value());
    CHECK(parse_duration_s("9223372036854775807") == 9223372036854775807LL);
    CHECK_FALSE(parse_duration_s("9223372036854775807s1s").has_value());
}

TEST_CASE("durations: short human form", "[cli][duration]") {
    CHECK(format_duration_s(45) == "45s");
    CHECK(format_duration_s(7200) == "2h");
    CHECK(format_duration_s(5400) == "1h30m");
    CHECK(format_duration_s(7 * 86400) == "7d");
    CHECK(format_duration_s(86400 + 7200 + 5) == "1d2h");
    CHECK(format_duration_s(0) == "0s");
}
