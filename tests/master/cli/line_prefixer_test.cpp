// "[agent] " before every line of output that arrives in arbitrary chunks.
#include "line_prefixer.hpp"

#include <catch2/catch.hpp>

#include <string>

using remsh::cli::LinePrefixer;

TEST_CASE("line prefixing: complete lines go out at once", "[cli][prefix]") {
    LinePrefixer p("[a1] ");
    CHECK(p.feed("one\ntwo\n") == "[a1] one\n[a1] two\n");
    CHECK_FALSE(p.has_partial());
    CHECK(p.finish().empty());
}

TEST_CASE("line prefixing: a partial line waits for its end", "[cli][prefix]") {
    LinePrefixer p("[a1] ");
    CHECK(p.feed("hel").empty());
    CHECK(p.has_partial());
    CHECK(p.feed("lo\nwor") == "[a1] hello\n");
    CHECK(p.feed("ld\n") == "[a1] world\n");
    CHECK(p.finish().empty());
}

TEST_CASE("line prefixing: the last partial line is flushed with a newline", "[cli][prefix]") {
    LinePrefixer p("[b] ");
    CHECK(p.feed("x\nno newline") == "[b] x\n");
    CHECK(p.finish() == "[b] no newline\n");
    CHECK(p.finish().empty());
}

TEST_CASE("line prefixing: empty lines and byte-by-byte input", "[cli][prefix]") {
    LinePrefixer p("> ");
    std::string out;
    for (char c : std::string("a\n\nb\n")) {
        out += p.feed(std::string(1, c));
    }
    CHECK(out == "> a\n> \n> b\n");
    CHECK(p.feed("").empty());
}

TEST_CASE("line prefixing: binary bytes pass through", "[cli][prefix]") {
    LinePrefixer p("[z] ");
    const std::string data("\0\x01\xff\n", 4);
    CHECK(p.feed(data) == std::string("[z] \0\x01\xff\n", 8));
}

TEST_CASE("line prefixing: an endless line is cut at the limit", "[cli][prefix]") {
    LinePrefixer p("[a] ", 4);
    CHECK(p.feed("ab").empty());
    CHECK(p.feed("cdef") == "[a] abcdef\n");
    CHECK(p.feed("g\n") == "[a] g\n");
}
