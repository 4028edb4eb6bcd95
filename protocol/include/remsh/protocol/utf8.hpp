// UTF-8 as JSON text needs it (docs/protocol.md 5): no overlong forms, no surrogates,
// nothing past U+10FFFF. File names are bytes and error messages quote them, so both sides
// check before text goes into a control message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace remsh::protocol {

// How many bytes the sequence a byte starts has: 1 for ASCII, 2..4 for a lead byte of
// UTF-8, 0 for a byte no valid sequence starts with (a continuation byte, C0, C1, F5..FF).
std::size_t utf8_announced_length(std::uint8_t lead);

bool is_utf8(std::string_view bytes);
// `bytes` with every sequence that is not UTF-8 replaced by U+FFFD: text for people.
std::string to_utf8_lossy(std::string_view bytes);

}  // namespace remsh::protocol
