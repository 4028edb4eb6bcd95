#include "daemon/utf8_text.hpp"

#include "remsh/protocol/utf8.hpp"

namespace remsh::master {

namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// How many bytes at the end of `s` start a character the next chunk may complete: a lead
// byte with fewer continuation bytes after it than it announces.
std::size_t incomplete_tail(const std::string& s) {
  for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: its lead is further back
    // Not a lead byte (0): nothing to wait for either.
    return protocol::utf8_announced_length(c) > back ? back : 0;
  }
  return 0;
}

}  // namespace

std::string Utf8Text::take(protocol::ByteView bytes) {
  carry_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t complete = carry_.size() - incomplete_tail(carry_);
  std::string out = protocol::to_utf8_lossy(std::string_view(carry_).substr(0, complete));
  carry_.erase(0, complete);
  return out;
}

std::string Utf8Text::flush() {
  std::string out;
  for (std::size_t i = 0; i < carry_.size(); ++i) out += kReplacement;
  carry_.clear();
  return out;
}

}  // namespace remsh::master
