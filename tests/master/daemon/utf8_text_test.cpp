// Utf8Text: terminal bytes as JSON-safe text, split characters carried across chunks.
#include "daemon/utf8_text.hpp"

#include <catch2/catch.hpp>

#include <string>

using remsh::master::Utf8Text;

namespace {
remsh::protocol::ByteView bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("utf8 text: ascii and whole characters pass", "[utf8]") {
  Utf8Text t;
  CHECK(t.take(bytes("ls -l\r\n")) == "ls -l\r\n");
  CHECK(t.take(bytes("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")) == "h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(t.flush().empty());
}

TEST_CASE("utf8 text: a character split across chunks waits for its end", "[utf8]") {
  Utf8Text t;
  CHECK(t.take(bytes("a\xE2")) == "a");
  CHECK(t.take(bytes("\x82")) == "");
  CHECK(t.take(bytes("\xAC" "b")) == "\xE2\x82\xAC" "b");
}

TEST_CASE("utf8 text: invalid bytes become U+FFFD", "[utf8]") {
  const std::string r = "\xEF\xBF\xBD";
  Utf8Text t;
  CHECK(t.take(bytes("\xFF" "a")) == r + "a");
  CHECK(t.take(bytes("\xC0\xAF")) == r + r);            // overlong
  CHECK(t.take(bytes("\xED\xA0\x80")) == r + r + r);    // a surrogate
  CHECK(t.take(bytes("\xE2" "x")) == r + "x");          // a lead byte cut short
  CHECK(t.take(bytes("\xF0\x9F")) == "");
  CHECK(t.flush() == r + r);                            // the end of the stream
}
