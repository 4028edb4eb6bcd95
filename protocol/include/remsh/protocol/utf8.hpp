// UTF-8 as JSON text needs it (docs/protocol.md 5): no overlong forms, no surrogates,
// nothing past U+10FFFF. File names are bytes and error messages quote them, so both sides
// check before text goes into a control message.
#pragma once

#include <string>
#include <string_view>

namespace remsh::protocol {

bool is_utf8(std::string_view bytes);
// `bytes` with every sequence that is not UTF-8 replaced by U+FFFD: text for people.
std::string to_utf8_lossy(std::string_view bytes);

}  // namespace remsh::protocol
