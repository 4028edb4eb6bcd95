#include "remsh/protocol/enrollment_token.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "remsh/protocol/json_fields.hpp"

namespace remsh::protocol {
namespace {
constexpr std::string_view kPrefix = "remsh1_";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

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
