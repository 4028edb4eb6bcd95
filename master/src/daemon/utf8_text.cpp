#include "daemon/utf8_text.hpp"

namespace remsh::master {

namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the UTF-8 sequence a lead byte starts (0: not a lead byte).
int sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

// Whether s[i..i+n) is a valid sequence of length n (no overlong forms, no surrogates, at
// most U+10FFFF).
bool valid_sequence(const std::string& s, std::size_t i, int n) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  for (int k = 1; k < n; ++k) {
    if ((b(static_cast<std::size_t>(k)) & 0xC0) != 0x80) return false;
  }
  if (n == 3 && b(0) == 0xE0 && b(1) < 0xA0) return false;
  if (n == 3 && b(0) == 0xED && b(1) >= 0xA0) return false;
  if (n == 4 && b(0) == 0xF0 && b(1) < 0x90) return false;
  if (n == 4 && b(0) == 0xF4 && b(1) >= 0x90) return false;
  return true;
}

}  // namespace

std::string Utf8Text::take(protocol::ByteView bytes) {
  carry_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::string out;
  out.reserve(carry_.size());
  std::size_t i = 0;
  while (i < carry_.size()) {
    const int n = sequence_length(static_cast<unsigned char>(carry_[i]));
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (i + static_cast<std::size_t>(n) > carry_.size()) {
      // Possibly the start of a character the next chunk completes: keep it if what is
      // there so far could still be valid.
      bool could_be = true;
      for (std::size_t k = i + 1; k < carry_.size(); ++k) {
        if ((static_cast<unsigned char>(carry_[k]) & 0xC0) != 0x80) could_be = false;
      }
      if (could_be) break;
      out += kReplacement;
      ++i;
      continue;
    }
    if (!valid_sequence(carry_, i, n)) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(carry_, i, static_cast<std::size_t>(n));
    i += static_cast<std::size_t>(n);
  }
  carry_.erase(0, i);
  return out;
}

std::string Utf8Text::flush() {
  std::string out;
  for (std::size_t i = 0; i < carry_.size(); ++i) out += kReplacement;
  carry_.clear();
  return out;
}

}  // namespace remsh::master
