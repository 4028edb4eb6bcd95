// JsonFields: reads typed, bounded fields out of a peer's JSON object.
//
// Validation code reads top-down as a list of fields; the first problem is remembered as a
// bad-message error naming the message and the field, and later reads become no-ops.
// Unknown fields are ignored (docs/protocol.md: forward compatibility).
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "remsh/protocol/error.hpp"
#include "remsh/protocol/limits.hpp"

namespace remsh::protocol {

class JsonFields {
 public:
  JsonFields(const boost::json::object& object, std::string_view message_type)
      : object_(object), type_(message_type) {}

  std::string string(std::string_view key, std::size_t max_len = kMaxStringLength);
  std::optional<std::string> optional_string(std::string_view key,
                                             std::size_t max_len = kMaxStringLength);
  std::uint64_t uint(std::string_view key, std::uint64_t min, std::uint64_t max);
  std::optional<std::uint64_t> optional_uint(std::string_view key, std::uint64_t min,
                                             std::uint64_t max);
  std::optional<std::int64_t> optional_int(std::string_view key, std::int64_t min,
                                           std::int64_t max);
  bool boolean(std::string_view key, bool fallback);
  std::vector<std::string> strings(std::string_view key, std::size_t max_entries,
                                   std::size_t max_len = kMaxStringLength);
  // Names that may not be UTF-8 (docs/protocol.md 9.6): the field `key`, or `key`_b64 holding
  // the bytes in base64url; both at once is an error. The bound is on the decoded bytes.
  std::optional<std::string> optional_name(std::string_view key, std::size_t max_len);
  std::string name(std::string_view key, std::size_t max_len);
  std::optional<std::vector<std::string>> optional_names(std::string_view key, std::size_t max_entries,
                                                         std::size_t max_len);
  std::vector<std::uint32_t> channel_ids(std::string_view key, std::size_t max_entries);
  const boost::json::object* optional_object(std::string_view key);

  // The first problem seen, if any.
  const std::optional<ProtocolError>& error() const { return error_; }
  void fail(std::string_view key, std::string_view problem);

 private:
  const boost::json::value* find(std::string_view key) const;

  const boost::json::object& object_;
  std::string_view type_;
  std::optional<ProtocolError> error_;
};

}  // namespace remsh::protocol
