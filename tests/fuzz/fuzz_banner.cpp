// Greeting: the first 8 bytes from a peer.
#include <cstdint>
#include <variant>

#include "remsh/protocol/banner.hpp"

using namespace remsh::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = parse_banner(ByteView{data, size});
  if (auto* version = std::get_if<std::uint16_t>(&r)) {
    if (size != kBannerSize || *version == 0) __builtin_trap();
    auto agreed = agree_version(1, *version);
    if (std::get<std::uint16_t>(agreed) != 1) __builtin_trap();
  }
  return 0;
}
