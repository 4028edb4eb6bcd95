// Tolerant reads of the master's JSON: a missing field, a null or a value of another type gives
// the default, so an older or newer master does not break the client.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remsh::cli {

// The member `key` of `v` when v is an object; nullptr otherwise.
const boost::json::value* member(const boost::json::value& v, std::string_view key);

std::string get_string(const boost::json::value& v, std::string_view key);
// An integer (also from an unsigned or an integral double); nullopt when absent or null.
std::optional<std::int64_t> get_int(const boost::json::value& v, std::string_view key);
// The strings of an array (other elements skipped).
std::vector<std::string> get_strings(const boost::json::value& v, std::string_view key);

// A value as text for display: a string as is, a number in decimal, otherwise empty.
std::string scalar_text(const boost::json::value* v);

}  // namespace remsh::cli
