// Frame decoder: arbitrary bytes split at arbitrary points. The first input byte chooses
// the split size, so the fuzzer explores both framing and re-assembly.
#include <cstdint>
#include <variant>

#include "remsh/protocol/frame.hpp"
#include "remsh/protocol/limits.hpp"

using namespace remsh::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = 1 + data[0] % 64;
  ByteView rest{data + 1, size - 1};
  FrameDecoder decoder(kMinFramePayload);
  std::uint64_t total = 0;
  while (!rest.empty()) {
    const std::size_t n = rest.size() < step ? rest.size() : step;
    decoder.feed(rest.first(n));
    rest = rest.subspan(n);
    for (;;) {
      auto r = decoder.next();
      if (auto* f = std::get_if<FrameView>(&r)) {
        // A frame the decoder accepts must be valid and re-encode to the same length.
        if (validate_header(f->header, 0, kMinFramePayload)) __builtin_trap();
        if (f->payload.size() != f->header.length) __builtin_trap();
        total += kFrameHeaderSize + f->payload.size();
        continue;
      }
      if (std::holds_alternative<ProtocolError>(r)) return 0;
      break;
    }
  }
  if (total + decoder.buffered() != size - 1) __builtin_trap();
  return 0;
}
