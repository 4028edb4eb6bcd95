#include <catch2/catch.hpp>

#include "remsh/protocol/banner.hpp"

using namespace remsh::protocol;

TEST_CASE("banner encodes magic and version", "[banner]") {
  auto b = encode_banner(1);
  const std::uint8_t want[8] = {'r', 'e', 'm', 's', 'h', 0, 0, 1};
  REQUIRE(std::equal(b.begin(), b.end(), want));
  auto parsed = parse_banner(ByteView{b});
  REQUIRE(std::get<std::uint16_t>(parsed) == 1);
}

TEST_CASE("banner refuses other protocols and wrong sizes", "[banner]") {
  auto http = as_bytes("GET / HT");
  REQUIRE(std::get<ProtocolError>(parse_banner(http)).tag == ErrorTag::bad_banner);
  auto b = encode_banner(1);
  REQUIRE(std::get<ProtocolError>(parse_banner(ByteView{b.data(), 7})).tag ==
          ErrorTag::bad_banner);
}

TEST_CASE("version agreement takes the lower version", "[banner]") {
  REQUIRE(std::get<std::uint16_t>(agree_version(1, 5)) == 1);
  REQUIRE(std::get<std::uint16_t>(agree_version(3, 2)) == 2);
  REQUIRE(std::get<ProtocolError>(agree_version(1, 0)).tag == ErrorTag::version_unsupported);
}
