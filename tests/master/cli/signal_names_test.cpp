// Signal names and the exit codes derived from them.
#include "exit_codes.hpp"
#include "signal_names.hpp"

#include <catch2/catch.hpp>

using namespace remsh::cli;

TEST_CASE("signals: names to numbers", "[cli][signal]") {
    CHECK(signal_number("KILL") == 9);
    CHECK(signal_number("TERM") == 15);
    CHECK(signal_number("INT") == 2);
    CHECK(signal_number("SEGV") == 11);
    CHECK(signal_number("ABRT") == 6);
    CHECK(signal_number("HUP") == 1);
    CHECK(signal_number("QUIT") == 3);
    CHECK(signal_number("PIPE") == 13);
    CHECK(signal_number("USR1") == 10);
    CHECK(signal_number("ALRM") == 14);
}

TEST_CASE("signals: SIG prefix, lower case and numbers are accepted", "[cli][signal]") {
    CHECK(signal_number("SIGKILL") == 9);
    CHECK(signal_number("sigterm") == 15);
    CHECK(signal_number("int") == 2);
    CHECK(signal_number("9") == 9);
    CHECK(signal_number("64") == 64);
}

TEST_CASE("signals: unknown names", "[cli][signal]") {
    CHECK_FALSE(signal_number("").has_value());
    CHECK_FALSE(signal_number("SIG").has_value());
    CHECK_FALSE(signal_number("BOGUS").has_value());
    CHECK_FALSE(signal_number("0").has_value());
    CHECK_FALSE(signal_number("65").has_value());
    CHECK_FALSE(signal_number("-9").has_value());
    CHECK_FALSE(signal_exit_code("BOGUS").has_value());
}

TEST_CASE("signals: exit code is 128 plus the number", "[cli][signal]") {
    CHECK(signal_exit_code("KILL") == 137);
    CHECK(signal_exit_code("INT") == 130);
    CHECK(signal_exit_code("TERM") == 143);
    CHECK(signal_exit_code("SIGSEGV") == 139);
}

TEST_CASE("signals: numbers to names", "[cli][signal]") {
    CHECK(signal_name(9) == "KILL");
    CHECK(signal_name(6) == "ABRT");
    CHECK(signal_name(29) == "IO");
    CHECK(signal_name(99).empty());
}

TEST_CASE("exit codes: error tags", "[cli][exit]") {
    CHECK(exit_code_for_error_tag("exec-failed") == 127);
    CHECK(exit_code_for_error_tag("agent-offline") == 255);
    CHECK(exit_code_for_error_tag("master-unreachable") == 255);
    CHECK(exit_code_for_error_tag("unauthorized") == 255);
}
