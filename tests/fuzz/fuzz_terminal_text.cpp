// Terminal output from an agent turned into asciicast text by the master (Utf8Text), and
// asciicast recordings read back by the CLI (parse_asciicast). The first byte picks where
// the input is split in two chunks.
#include <cstdint>
#include <string>

#include "asciicast.hpp"
#include "daemon/utf8_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t cut = std::min<std::size_t>(data[0], size - 1);
  remsh::master::Utf8Text text;
  std::string out = text.take(remsh::protocol::ByteView{data + 1, cut});
  out += text.take(remsh::protocol::ByteView{data + 1 + cut, size - 1 - cut});
  out += text.flush();
  // Every byte comes out, as itself or as U+FFFD: never less text than bytes/1, never lost.
  if (out.size() < size - 1) __builtin_trap();
  std::string error;
  (void)remsh::cli::parse_asciicast(std::string_view(reinterpret_cast<const char*>(data), size), error);
  return 0;
}
