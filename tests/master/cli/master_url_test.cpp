// The master's address (--master, REMSH_MASTER) and certificate fingerprints.
#include "master_url.hpp"

#include <catch2/catch.hpp>

using namespace remsh::cli;

TEST_CASE("master url: http with a port", "[cli][url]") {
    const auto u = parse_master_url("http://127.0.0.1:7080");
    REQUIRE(u);
    CHECK_FALSE(u->tls);
    CHECK(u->host == "127.0.0.1");
    CHECK(u->port == "7080");
    CHECK(u->base_path.empty());
    CHECK(u->text == "http://127.0.0.1:7080");
    CHECK(u->host_header() == "127.0.0.1:7080");
    CHECK(u->host_is_ip());
}

TEST_CASE("master url: https and default ports", "[cli][url]") {
    const auto s = parse_master_url("HTTPS://master.example.org/");
    REQUIRE(s);
    CHECK(s->tls);
    CHECK(s->host == "master.example.org");
    CHECK(s->port == "443");
    CHECK_FALSE(s->host_is_ip());
    CHECK(s->text == "HTTPS://master.example.org");
    const auto h = parse_master_url("http://m");
    REQUIRE(h);
    CHECK(h->port == "80");
}

TEST_CASE("master url: no scheme means http", "[cli][url]") {
    const auto u = parse_master_url("localhost:7080");
    REQUIRE(u);
    CHECK_FALSE(u->tls);
    CHECK(u->host == "localhost");
    CHECK(u->port == "7080");
    CHECK(u->text == "http://localhost:7080");
}

TEST_CASE("master url: IPv6 and a base path", "[cli][url]") {
    const auto u = parse_master_url("https://[::1]:8443/remsh/");
    REQUIRE(u);
    CHECK(u->host == "::1");
    CHECK(u->port == "8443");
    CHECK(u->base_path == "/remsh");
    CHECK(u->host_header() == "[::1]:8443");
    CHECK(u->host_is_ip());
}

TEST_CASE("master url: malformed addresses", "[cli][url]") {
    for (const char* bad : {"", "http://", "ftp://x", "http://:80", "http://x:", "http://x:0",
                            "http://x:65536", "http://x:12a", "http://[::1", "http://::1:80",
                            "http://x/?q", "http://u@x"}) {
        INFO(bad);
        std::string error;
        CHECK_FALSE(parse_master_url(bad, &error).has_value());
        CHECK_FALSE(error.empty());
    }
}

TEST_CASE("fingerprints: accepted forms", "[cli][url]") {
    const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK(normalize_fingerprint(hex) == hex);
    CHECK(normalize_fingerprint("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF") == hex);
    CHECK(normalize_fingerprint("sha256:" + hex) == hex);
    CHECK(normalize_fingerprint("SHA256 Fingerprint=01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
                                "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF") == hex);
}

TEST_CASE("fingerprints: refused forms", "[cli][url]") {
    CHECK_FALSE(normalize_fingerprint("").has_value());
    CHECK_FALSE(normalize_fingerprint("abcd").has_value());
    CHECK_FALSE(normalize_fingerprint(std::string(63, 'a')).has_value());
    CHECK_FALSE(normalize_fingerprint(std::string(65, 'a')).has_value());
    CHECK_FALSE(normalize_fingerprint(std::string(64, 'g')).has_value());
}
