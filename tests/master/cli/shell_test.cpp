// The pure parts of `remsh shell` and `remsh shell-sessions`: the ~. escape and asciicast.
#include "asciicast.hpp"
#include "escape_filter.hpp"

#include <catch2/catch.hpp>

using namespace remsh::cli;

TEST_CASE("escape filter: tilde-dot at a line start disconnects", "[shell]") {
  EscapeFilter f;
  auto r = f.feed("~.");
  CHECK(r.disconnect);
  CHECK(r.forward.empty());
  EscapeFilter g;
  r = g.feed("ls\r~.rest");
  CHECK(r.disconnect);
  CHECK(r.forward == "ls\r");
}

TEST_CASE("escape filter: other tildes pass through", "[shell]") {
  EscapeFilter f;
  CHECK(f.feed("a~.b").forward == "a~.b");  // not at a line start
  CHECK_FALSE(f.feed("\r~~").disconnect);
  EscapeFilter g;
  auto r = g.feed("~~");
  CHECK(r.forward == "~");
  EscapeFilter h;
  r = h.feed("~x");
  CHECK(r.forward == "~x");
  // Split across reads.
  EscapeFilter k;
  CHECK(k.feed("\n~").forward == "\n");
  r = k.feed(".");
  CHECK(r.disconnect);
}

TEST_CASE("asciicast: a recording is read and bad ones are refused", "[shell]") {
  std::string error;
  auto cast = parse_asciicast(
      "{\"version\":2,\"width\":80,\"height\":24}\n[0.5, \"o\", \"hi\"]\n\n[1.25, \"i\", \"ls\\r\"]\n", error);
  REQUIRE(cast);
  CHECK(cast->header.at("width").as_int64() == 80);
  REQUIRE(cast->events.size() == 2);
  CHECK(cast->events[0].time == 0.5);
  CHECK(cast->events[1].kind == "i");
  CHECK(cast->events[1].data == "ls\r");
  CHECK_FALSE(parse_asciicast("{\"version\":1}\n", error));
  CHECK(error.find("version 2") != std::string::npos);
  CHECK_FALSE(parse_asciicast("{\"version\":2}\n[1, \"o\"]\n", error));
  CHECK(error == "line 2 is not a [time, kind, data] event");
  CHECK_FALSE(parse_asciicast("", error));
}

TEST_CASE("asciicast: replay pauses are scaled and capped", "[shell]") {
  CHECK(replay_pause(1.0, 2.0, 1.0, 5.0) == 1.0);
  CHECK(replay_pause(1.0, 2.0, 2.0, 5.0) == 0.5);
  CHECK(replay_pause(0.0, 60.0, 1.0, 2.0) == 2.0);
  CHECK(replay_pause(2.0, 1.0, 1.0, 2.0) == 0.0);
}
