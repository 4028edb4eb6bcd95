#include <catch2/catch.hpp>

#include "remsh/protocol/error.hpp"

using namespace remsh::protocol;

TEST_CASE("error tags round-trip through their wire names", "[error]") {
  for (int i = 0; i <= static_cast<int>(ErrorTag::bad_archive); ++i) {
    auto tag = static_cast<ErrorTag>(i);
    auto name = tag_name(tag);
    CAPTURE(name);
    REQUIRE(!name.empty());
    REQUIRE(name.find('_') == std::string_view::npos);  // wire names use dashes
    REQUIRE(tag_from_name(name) == tag);
  }
  REQUIRE_FALSE(tag_from_name("no-such-tag").has_value());
}

TEST_CASE("error tags are split into connection and channel level", "[error]") {
  REQUIRE(is_connection_error(ErrorTag::bad_frame));
  REQUIRE(is_connection_error(ErrorTag::flow_control));
  REQUIRE_FALSE(is_connection_error(ErrorTag::exec_failed));
  REQUIRE_FALSE(is_connection_error(ErrorTag::path_outside_workdir));
  REQUIRE_FALSE(is_connection_error(ErrorTag::bad_message));  // depends on the channel
  REQUIRE(ProtocolError{ErrorTag::bad_frame, "x"}.describe() == "bad-frame: x");
}
