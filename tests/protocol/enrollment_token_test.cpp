#include <catch2/catch.hpp>

#include "remsh/protocol/enrollment_token.hpp"

using namespace remsh::protocol;

TEST_CASE("base64url round trip for every length and byte", "[token]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    std::string s = all.substr(0, n);
    auto enc = base64url_encode(s);
    REQUIRE(enc.find_first_of("+/=") == std::string::npos);
    REQUIRE(base64url_decode(enc) == s);
  }
  REQUIRE_FALSE(base64url_decode("a b"));
}

TEST_CASE("enrollment tokens carry address fingerprint and secret", "[token]") {
  EnrollmentToken t{"127.0.0.1:7443", std::string(64, 'a'), "s3cret", false};
  auto text = t.encode();
  REQUIRE(text.rfind("remsh1_", 0) == 0);
  auto back = std::get<EnrollmentToken>(EnrollmentToken::decode(text + "\n"));
  REQUIRE(back.master == "127.0.0.1:7443");
  REQUIRE(back.fingerprint == t.fingerprint);
  REQUIRE(back.secret == "s3cret");
  REQUIRE_FALSE(back.plaintext);
}

TEST_CASE("damaged or foreign tokens are refused with a reason", "[token]") {
  auto e = std::get<ProtocolError>(EnrollmentToken::decode("hello"));
  REQUIRE(e.message.find("remsh1_") != std::string::npos);
  EnrollmentToken t{"127.0.0.1:1", std::string(64, 'a'), "s", false};
  auto text = t.encode();
  REQUIRE(std::holds_alternative<ProtocolError>(EnrollmentToken::decode(text.substr(0, text.size() - 5))));
  EnrollmentToken nofp{"127.0.0.1:1", "", "s", false};
  REQUIRE(std::holds_alternative<ProtocolError>(EnrollmentToken::decode(nofp.encode())));
  EnrollmentToken plain{"127.0.0.1:1", "", "s", true};
  REQUIRE(std::holds_alternative<EnrollmentToken>(EnrollmentToken::decode(plain.encode())));
}
