#include "remsh/protocol/name_field.hpp"

#include <algorithm>

#include <boost/json/array.hpp>

#include "remsh/protocol/base64url.hpp"
#include "remsh/protocol/utf8.hpp"

namespace remsh::protocol {
namespace json = boost::json;

void put_name(json::object& o, std::string_view key, std::string_view bytes) {
  if (is_utf8(bytes)) {
    o[key] = bytes;
  } else {
    o[std::string(key) + "_b64"] = base64url_encode(bytes);
  }
}

void put_names(json::object& o, std::string_view key, const std::vector<std::string>& names) {
  json::array a;
  a.reserve(names.size());
  if (std::all_of(names.begin(), names.end(), [](const std::string& n) { return is_utf8(n); })) {
    for (const auto& n : names) a.emplace_back(n);
    o[key] = std::move(a);
  } else {
    for (const auto& n : names) a.emplace_back(base64url_encode(n));
    o[std::string(key) + "_b64"] = std::move(a);
  }
}

std::optional<std::string> name_from_b64(std::string_view text) {
  auto bytes = base64url_decode(text);
  if (!bytes || base64url_encode(*bytes) != text) return std::nullopt;
  return bytes;
}

std::optional<std::string> read_name(const json::object& o, std::string_view key) {
  const json::value* text = o.if_contains(key);
  const json::value* b64 = o.if_contains(std::string(key) + "_b64");
  if (text && b64) return std::nullopt;
  if (text) return text->is_string() ? std::optional<std::string>(std::string(text->get_string())) : std::nullopt;
  if (!b64 || !b64->is_string()) return std::nullopt;
  return name_from_b64(b64->get_string());
}

}  // namespace remsh::protocol
