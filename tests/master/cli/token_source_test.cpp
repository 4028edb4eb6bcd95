// Where the API token comes from: --token-file, then REMSH_TOKEN_FILE, then REMSH_TOKEN.
#include "cli_error.hpp"
#include "token_source.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

using namespace remsh::cli;

namespace {

// A file in the temporary directory, removed at the end of the test.
struct TempFile {
    explicit TempFile(const std::string& content) {
        path = (std::filesystem::temp_directory_path() /
                ("remsh-cli-token-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                   .string();
        std::ofstream(path, std::ios::binary) << content;
    }
    ~TempFile() { std::remove(path.c_str()); }
    std::string path;
    static inline int counter = 0;
};

}  // namespace

TEST_CASE("token source: --token-file wins over both variables", "[cli][token]") {
    const TokenSource s = choose_token_source(std::string("/flag"), "/envfile", "text");
    CHECK(s.kind == TokenSource::Kind::file);
    CHECK(s.value == "/flag");
    CHECK(s.origin == "--token-file");
}

TEST_CASE("token source: REMSH_TOKEN_FILE wins over REMSH_TOKEN", "[cli][token]") {
    const TokenSource s = choose_token_source(std::nullopt, "/envfile", "text");
    CHECK(s.kind == TokenSource::Kind::file);
    CHECK(s.value == "/envfile");
    CHECK(s.origin == "REMSH_TOKEN_FILE");
}

TEST_CASE("token source: REMSH_TOKEN alone", "[cli][token]") {
    const TokenSource s = choose_token_source(std::nullopt, nullptr, "text");
    CHECK(s.kind == TokenSource::Kind::text);
    CHECK(s.value == "text");
    CHECK(s.origin == "REMSH_TOKEN");
}

TEST_CASE("token source: empty values count as unset", "[cli][token]") {
    CHECK(choose_token_source(std::string(), "", "").kind == TokenSource::Kind::none);
    CHECK(choose_token_source(std::string(), "", "t").kind == TokenSource::Kind::text);
    CHECK(choose_token_source(std::nullopt, nullptr, nullptr).kind == TokenSource::Kind::none);
}

TEST_CASE("token source: whitespace is stripped", "[cli][token]") {
    CHECK(strip_whitespace("  abc \r\n") == "abc");
    CHECK(strip_whitespace("\tabc def\n") == "abc def");
    CHECK(strip_whitespace(" \n ").empty());
    CHECK(load_token({TokenSource::Kind::text, " tok\n", "REMSH_TOKEN"}) == "tok");
}

TEST_CASE("token source: a file's token", "[cli][token]") {
    TempFile f("remsh-admin-abc123\n");
    CHECK(load_token({TokenSource::Kind::file, f.path, "--token-file"}) == "remsh-admin-abc123");
}

TEST_CASE("token source: unreadable or empty files are errors", "[cli][token]") {
    TempFile empty(" \n");
    CHECK_THROWS_AS(load_token({TokenSource::Kind::file, empty.path, "REMSH_TOKEN_FILE"}), CliError);
    try {
        load_token({TokenSource::Kind::file, "/nonexistent/remsh/token", "--token-file"});
        FAIL("no error");
    } catch (const CliError& e) {
        CHECK(e.tag == "token-file");
        CHECK(std::string(e.what()).find("/nonexistent/remsh/token") != std::string::npos);
    }
    CHECK_THROWS_AS(load_token({TokenSource::Kind::text, "  ", "REMSH_TOKEN"}), CliError);
    CHECK(load_token({}).empty());
}

TEST_CASE("token source: descriptions for messages", "[cli][token]") {
    CHECK(describe_token_source({}) == "no token was given");
    CHECK(describe_token_source({TokenSource::Kind::file, "/t", "REMSH_TOKEN_FILE"}) ==
          "the token from REMSH_TOKEN_FILE /t");
}
