// Data streams: a sequence of DATA payloads with fuzzer-chosen flags through one
// StreamDecoder under a credit limit. Input layout, repeated: flags (1 byte), length (2
// bytes, big-endian), payload.
#include <cstdint>

#include "remsh/protocol/stream_codec.hpp"

using namespace remsh::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kCredit = 1 << 20;
  StreamDecoder decoder;
  ByteBuffer out;
  std::size_t pos = 0;
  while (pos + 3 <= size) {
    const std::uint8_t flags = data[pos] & frame_flags::known;
    if ((flags & frame_flags::codec_mask) == 3) return 0;  // the frame decoder refuses these
    std::size_t len = load_u16(data + pos + 1);
    pos += 3;
    if (len > size - pos) len = size - pos;
    const std::size_t before = out.size();
    auto error = decoder.decode(flags, ByteView{data + pos, len}, out, kCredit - before);
    if (error) return 0;
    if (out.size() > kCredit) __builtin_trap();  // the bound must hold
    pos += len;
  }
  return 0;
}
