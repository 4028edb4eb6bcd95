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

std::optional<std::string> read_name(const json::object& o, std::string_view key) {
  if (const json::value* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  const json::value* b = o.if_contains(std::string(key) + "_b64");
  if (!b || !b->is_string() || b->get_string().size() % 4 == 1) return std::nullopt;
  return base64url_decode(b->get_string());
}

}  // namespace remsh::protocol
