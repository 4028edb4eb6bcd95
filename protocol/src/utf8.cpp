#include "remsh/protocol/utf8.hpp"

#include <cstddef>
#include <cstdint>

namespace remsh::protocol {
namespace {

// The length of the valid sequence at `at`, or 0 when the bytes there are not UTF-8.
std::size_t sequence_length(std::string_view s, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
  const std::uint8_t b0 = byte(at);
  const std::size_t n = utf8_announced_length(b0);
  if (n <= 1) return n;
  std::uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b0 == 0xE0) lo = 0xA0;  // overlong
  if (b0 == 0xED) hi = 0x9F;  // surrogates
  if (b0 == 0xF0) lo = 0x90;  // overlong
  if (b0 == 0xF4) hi = 0x8F;  // past U+10FFFF
  if (at + n > s.size()) return 0;
  if (byte(at + 1) < lo || byte(at + 1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::size_t utf8_announced_length(std::uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool is_utf8(std::string_view bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    const std::size_t n = sequence_length(bytes, at);
    if (n == 0) return false;
    at += n;
  }
  return true;
}

std::string to_utf8_lossy(std::string_view bytes) {
  if (is_utf8(bytes)) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  for (std::size_t at = 0; at < bytes.size();) {
    const std::size_t n = sequence_length(bytes, at);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++at;
    } else {
      out.append(bytes.substr(at, n));
      at += n;
    }
  }
  return out;
}

}  // namespace remsh::protocol
