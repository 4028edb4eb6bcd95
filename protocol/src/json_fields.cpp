#include "remsh/protocol/json_fields.hpp"

#include "remsh/protocol/name_field.hpp"

namespace remsh::protocol {

namespace json = boost::json;

void JsonFields::fail(std::string_view key, std::string_view problem) {
  if (error_) return;
  std::string message{type_};
  message += ".";
  message += key;
  message += ": ";
  message += problem;
  error_ = ProtocolError{ErrorTag::bad_message, std::move(message)};
}

const json::value* JsonFields::find(std::string_view key) const {
  if (error_) return nullptr;
  auto it = object_.find(key);
  if (it == object_.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

std::optional<std::string> JsonFields::optional_string(std::string_view key,
                                                       std::size_t max_len) {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(key, "must be a string");
    return std::nullopt;
  }
  const json::string& s = v->get_string();
  if (s.size() > max_len) {
    fail(key, "longer than " + std::to_string(max_len) + " bytes");
    return std::nullopt;
  }
  return std::string(s.data(), s.size());
}

std::string JsonFields::string(std::string_view key, std::size_t max_len) {
  if (!error_ && !find(key)) fail(key, "is required");
  return optional_string(key, max_len).value_or(std::string{});
}

std::optional<std::uint64_t> JsonFields::optional_uint(std::string_view key, std::uint64_t min,
                                                       std::uint64_t max) {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  std::uint64_t n = 0;
  if (v->is_uint64()) {
    n = v->get_uint64();
  } else if (v->is_int64() && v->get_int64() >= 0) {
    n = static_cast<std::uint64_t>(v->get_int64());
  } else {
    fail(key, "must be a non-negative integer");
    return std::nullopt;
  }
  if (n < min || n > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::uint64_t JsonFields::uint(std::string_view key, std::uint64_t min, std::uint64_t max) {
  if (!error_ && !find(key)) fail(key, "is required");
  return optional_uint(key, min, max).value_or(min);
}

std::optional<std::int64_t> JsonFields::optional_int(std::string_view key, std::int64_t min,
                                                     std::int64_t max) {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(max)) {
    n = static_cast<std::int64_t>(v->get_uint64());
  } else {
    fail(key, "must be an integer");
    return std::nullopt;
  }
  if (n < min || n > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

bool JsonFields::boolean(std::string_view key, bool fallback) {
  const json::value* v = find(key);
  if (!v) return fallback;
  if (!v->is_bool()) {
    fail(key, "must be true or false");
    return fallback;
  }
  return v->get_bool();
}

namespace {

std::string b64_key(std::string_view key) { return std::string(key) + "_b64"; }

// Base64url of at most `max_len` bytes is at most this long (unpadded).
std::size_t b64_length(std::size_t max_len) { return (max_len * 4 + 2) / 3; }

}  // namespace

std::optional<std::string> JsonFields::optional_name(std::string_view key, std::size_t max_len) {
  const std::string key_b64 = b64_key(key);
  if (!find(key_b64)) return optional_string(key, max_len);
  if (find(key)) {
    fail(key, "given twice, as text and in base64");
    return std::nullopt;
  }
  const auto text = optional_string(key_b64, b64_length(max_len));
  if (!text) return std::nullopt;
  auto bytes = name_from_b64(*text);
  if (!bytes) fail(key_b64, "is not canonical unpadded base64url");
  return bytes;
}

std::string JsonFields::name(std::string_view key, std::size_t max_len) {
  if (!error_ && !find(key) && !find(b64_key(key))) fail(key, "is required");
  return optional_name(key, max_len).value_or(std::string{});
}

std::optional<std::vector<std::string>> JsonFields::optional_names(std::string_view key, std::size_t max_entries,
                                                                   std::size_t max_len) {
  const std::string key_b64 = b64_key(key);
  if (!find(key_b64)) {
    if (!find(key)) return std::nullopt;
    return strings(key, max_entries, max_len);
  }
  if (find(key)) {
    fail(key, "given twice, as text and in base64");
    return std::nullopt;
  }
  std::vector<std::string> names = strings(key_b64, max_entries, b64_length(max_len));
  for (auto& n : names) {
    auto bytes = name_from_b64(n);
    if (!bytes) {
      fail(key_b64, "holds a text that is not canonical unpadded base64url");
      return std::nullopt;
    }
    n = std::move(*bytes);
  }
  if (error_) return std::nullopt;
  return names;
}

std::vector<std::uint32_t> JsonFields::channel_ids(std::string_view key, std::size_t max_entries) {
  std::vector<std::uint32_t> out;
  const json::value* v = find(key);
  if (!v) return out;
  if (!v->is_array() || v->get_array().size() > max_entries) {
    fail(key, "must be an array of at most " + std::to_string(max_entries) + " channel ids");
    return out;
  }
  for (const json::value& e : v->get_array()) {
    const auto* n = e.if_int64();
    const auto* u = e.if_uint64();
    const std::uint64_t id = n && *n > 0 ? static_cast<std::uint64_t>(*n) : u ? *u : 0;
    if (id == 0 || id > UINT32_MAX) {
      fail(key, "entries must be channel ids 1..4294967295");
      out.clear();
      return out;
    }
    out.push_back(static_cast<std::uint32_t>(id));
  }
  return out;
}

std::vector<std::string> JsonFields::strings(std::string_view key, std::size_t max_entries,
                                             std::size_t max_len) {
  std::vector<std::string> out;
  const json::value* v = find(key);
  if (!v) return out;
  if (!v->is_array()) {
    fail(key, "must be an array of strings");
    return out;
  }
  const json::array& a = v->get_array();
  if (a.size() > max_entries) {
    fail(key, "has more than " + std::to_string(max_entries) + " entries");
    return out;
  }
  out.reserve(a.size());
  for (const json::value& e : a) {
    if (!e.is_string() || e.get_string().size() > max_len) {
      fail(key, "entries must be strings of at most " + std::to_string(max_len) + " bytes");
      out.clear();
      return out;
    }
    out.emplace_back(e.get_string().data(), e.get_string().size());
  }
  return out;
}

const json::object* JsonFields::optional_object(std::string_view key) {
  const json::value* v = find(key);
  if (!v) return nullptr;
  if (!v->is_object()) {
    fail(key, "must be an object");
    return nullptr;
  }
  return &v->get_object();
}

}  // namespace remsh::protocol
