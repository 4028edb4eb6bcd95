// Unpadded base64url (RFC 4648 section 5): enrolment tokens (6.4) and names that are not
// UTF-8 (9.6) travel in it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace remsh::protocol {

std::string base64url_encode(std::string_view bytes);
// nullopt for a character outside the alphabet (padding included).
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace remsh::protocol
