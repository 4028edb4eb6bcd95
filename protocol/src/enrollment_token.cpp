#include "remsh/protocol/enrollment_token.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "remsh/protocol/json_fields.hpp"

namespace remsh::protocol {
namespace {
constexpr std::string_view kPrefix = "remsh1_";
}  // namespace

std::string EnrollmentToken::encode() const {
  boost::json::object o{{"m", master}, {"f", fingerprint}, {"s", secret}};
  if (plaintext) o["p"] = true;
  return std::string(kPrefix) + base64url_encode(boost::json::serialize(o));
}

std::variant<EnrollmentToken, ProtocolError> EnrollmentToken::decode(std::string_view text) {
  auto bad = [](const std::string& why) {
    return ProtocolError{ErrorTag::auth_failed, "not a remsh enrollment token: " + why};
  };
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.substr(0, kPrefix.size()) != kPrefix) return bad("it must start with remsh1_");
  text.remove_prefix(kPrefix.size());
  if (text.size() > 4096) return bad("too long");
  auto json_text = base64url_decode(text);
  if (!json_text) return bad("invalid characters");
  boost::system::error_code ec;
  auto v = boost::json::parse(*json_text, ec);
  if (ec || !v.is_object()) return bad("damaged (was it copied whole?)");
  JsonFields f(v.get_object(), "token");
  EnrollmentToken t;
  t.master = f.string("m", 512);
  t.fingerprint = f.optional_string("f", 64).value_or("");
  t.secret = f.string("s", 256);
  t.plaintext = f.boolean("p", false);
  if (f.error()) return bad(f.error()->message);
  if (!t.plaintext && t.fingerprint.size() != 64) return bad("no certificate fingerprint");
  if (t.master.find(':') == std::string::npos) return bad("no master port");
  return t;
}

}  // namespace remsh::protocol
