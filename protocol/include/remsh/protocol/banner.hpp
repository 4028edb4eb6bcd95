// The greeting: 8 bytes each side sends first, before any frame (docs/protocol.md,
// "Greeting"): the ASCII magic "remsh", a zero byte, and the highest protocol version the
// sender speaks as a big-endian u16. It lets either side drop a peer that speaks something
// else (an HTTP client, a port scanner) before parsing a single frame.
#pragma once

#include <array>
#include <cstdint>
#include <variant>

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/error.hpp"

namespace remsh::protocol {

inline constexpr std::size_t kBannerSize = 8;

std::array<std::uint8_t, kBannerSize> encode_banner(std::uint16_t version);

// The peer's highest version, or bad-banner. `bytes` must hold exactly kBannerSize bytes.
std::variant<std::uint16_t, ProtocolError> parse_banner(ByteView bytes);

// The version both sides speak: min(ours, theirs), or version-unsupported when that is
// below 1 (the only version so far).
std::variant<std::uint16_t, ProtocolError> agree_version(std::uint16_t ours,
                                                         std::uint16_t theirs);

}  // namespace remsh::protocol
