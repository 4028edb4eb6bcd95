// Names in JSON that may not be UTF-8 (docs/protocol.md 9.6): a path or a link target is
// bytes, JSON text is UTF-8. A name goes as the field `key` when its bytes are UTF-8 and
// as `key`_b64, their unpadded base64url, when they are not. JsonFields::name reads them
// strictly (a peer's request); read_name leniently (lines of a listing).
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remsh::protocol {

void put_name(boost::json::object& o, std::string_view key, std::string_view bytes);
// `key` when every name is UTF-8, else `key`_b64 for all of them.
void put_names(boost::json::object& o, std::string_view key, const std::vector<std::string>& names);
// The bytes of `key` or `key`_b64; nullopt when neither holds a usable string, or both are
// there. A caller treats nullopt as a malformed answer: an empty name would mean the top.
std::optional<std::string> read_name(const boost::json::object& o, std::string_view key);
// Canonical unpadded base64url only: the one text that encodes the bytes (no padding, no
// characters outside the alphabet, unused trailing bits zero).
std::optional<std::string> name_from_b64(std::string_view text);

}  // namespace remsh::protocol
