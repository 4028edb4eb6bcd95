// Showing an argv so that a shell would read it back unchanged.
#include "shell_quote.hpp"

#include <catch2/catch.hpp>

using remsh::cli::cmd_quote;
using remsh::cli::shell_join;
using remsh::cli::shell_quote;

TEST_CASE("shell quoting: plain words stay bare", "[cli][shell]") {
    CHECK(shell_quote("make") == "make");
    CHECK(shell_quote("-j2") == "-j2");
    CHECK(shell_quote("/usr/bin/env") == "/usr/bin/env");
    CHECK(shell_quote("CC=clang") == "CC=clang");
    CHECK(shell_quote("a,b:c@d%e+f_g.h") == "a,b:c@d%e+f_g.h");
}

TEST_CASE("shell quoting: special characters get single quotes", "[cli][shell]") {
    CHECK(shell_quote("") == "''");
    CHECK(shell_quote("echo hi") == "'echo hi'");
    CHECK(shell_quote("$HOME") == "'$HOME'");
    CHECK(shell_quote("a*b") == "'a*b'");
    CHECK(shell_quote("~") == "'~'");
    CHECK(shell_quote("x;y") == "'x;y'");
    CHECK(shell_quote("tab\there") == "'tab\there'");
    CHECK(shell_quote("line\nbreak") == "'line\nbreak'");
    CHECK(shell_quote("caf\xc3\xa9") == "'caf\xc3\xa9'");
}

TEST_CASE("shell quoting: a single quote inside", "[cli][shell]") {
    CHECK(shell_quote("it's") == "'it'\\''s'");
    CHECK(shell_quote("'") == "''\\'''");
}

TEST_CASE("shell quoting: joining an argv", "[cli][shell]") {
    CHECK(shell_join({}) == "");
    CHECK(shell_join({"make", "-j2"}) == "make -j2");
    CHECK(shell_join({"sh", "-c", "echo hi && ls"}) == "sh -c 'echo hi && ls'");
    CHECK(shell_join({"printf", "", "x"}) == "printf '' x");
}

TEST_CASE("cmd quoting: words cmd.exe reads specially get double quotes", "[cli][shell]") {
  CHECK(cmd_quote("git") == "git");
  CHECK(cmd_quote("C:\\src\\app") == "C:\\src\\app");
  CHECK(cmd_quote("two words") == "\"two words\"");
  CHECK(cmd_quote("a&b") == "\"a&b\"");
  CHECK(cmd_quote("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(cmd_quote("") == "\"\"");
}
