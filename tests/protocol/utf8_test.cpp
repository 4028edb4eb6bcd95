// UTF-8 checks and the name fields built on them (docs/protocol.md 5 and 9.6).
#include "remsh/protocol/messages.hpp"
#include "remsh/protocol/name_field.hpp"
#include "remsh/protocol/utf8.hpp"

#include <boost/json/object.hpp>
#include <catch2/catch.hpp>

using namespace remsh::protocol;

TEST_CASE("utf8: what JSON text may hold, and nothing else", "[utf8]") {
  CHECK(is_utf8(""));
  CHECK(is_utf8("plain ascii"));
  CHECK(is_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));        // é € 😀
  CHECK(is_utf8("\xF4\x8F\xBF\xBF"));                                  // U+10FFFF
  CHECK(is_utf8(std::string("a\0b", 3)));                              // NUL is UTF-8 (paths refuse it elsewhere)
  CHECK_FALSE(is_utf8("caf\xE9"));                                     // Latin-1
  CHECK_FALSE(is_utf8("\xC0\xAF"));                                    // overlong '/'
  CHECK_FALSE(is_utf8("\xE0\x80\xAF"));                                // overlong, 3 bytes
  CHECK_FALSE(is_utf8("\xED\xA0\x80"));                                // a surrogate
  CHECK_FALSE(is_utf8("\xF4\x90\x80\x80"));                            // past U+10FFFF
  CHECK_FALSE(is_utf8("\xE2\x82"));                                    // cut short
  CHECK_FALSE(is_utf8("\x80"));                                        // a lone continuation
  CHECK(to_utf8_lossy("caf\xE9!") == "caf\xEF\xBF\xBD!");
  CHECK(to_utf8_lossy("\xE2\x82\xAC") == "\xE2\x82\xAC");
  CHECK(is_utf8(to_utf8_lossy("\xFF\xE2\x82\xED\xA0\x80x")));
}

TEST_CASE("name fields: text when UTF-8, base64url otherwise, read back either way", "[utf8]") {
  boost::json::object o;
  put_name(o, "path", "a/caf\xC3\xA9");
  put_name(o, "target", "\xFF\xFE");
  CHECK(o.at("path") == "a/caf\xC3\xA9");
  CHECK(o.at("target_b64") == "__4");
  CHECK_FALSE(o.contains("target"));
  CHECK(read_name(o, "path") == "a/caf\xC3\xA9");
  CHECK(read_name(o, "target") == "\xFF\xFE");
  CHECK_FALSE(read_name(o, "to"));
  for (const char* bad : {"a", "Y2Fm6Q==", "Y2Fm6R", "Y+Fm", "Y2 F"}) {  // not canonical unpadded base64url
    CHECK_FALSE(read_name(boost::json::object{{"path_b64", bad}}, "path"));
  }
  CHECK_FALSE(read_name(boost::json::object{{"path", "a"}, {"path_b64", "YQ"}}, "path"));  // both forms
  CHECK_FALSE(read_name(boost::json::object{{"path", 7}}, "path"));
  CHECK(name_from_b64("Y2Fm6Q") == "caf\xE9");
}

TEST_CASE("error messages quoting bytes that are not UTF-8 are still JSON text", "[utf8]") {
  const auto o = ErrorMessage::from({ErrorTag::io_error, "d/caf\xE9: permission denied"}).to_json();
  const auto& message = o.at("message").as_string();
  CHECK(is_utf8({message.data(), message.size()}));
  CHECK(std::string_view(message.data(), message.size()) == "d/caf\xEF\xBF\xBD: permission denied");
}
