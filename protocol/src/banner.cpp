#include "remsh/protocol/banner.hpp"

#include <algorithm>
#include <string>

namespace remsh::protocol {
namespace {
constexpr std::uint8_t kMagic[6] = {'r', 'e', 'm', 's', 'h', 0};
}

std::array<std::uint8_t, kBannerSize> encode_banner(std::uint16_t version) {
  std::array<std::uint8_t, kBannerSize> out{};
  std::copy(std::begin(kMagic), std::end(kMagic), out.begin());
  store_u16(out.data() + 6, version);
  return out;
}

std::variant<std::uint16_t, ProtocolError> parse_banner(ByteView bytes) {
  if (bytes.size() != kBannerSize || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin())) {
    return ProtocolError{ErrorTag::bad_banner, "peer does not speak the remsh protocol"};
  }
  const std::uint16_t version = load_u16(bytes.data() + 6);
  if (version == 0) return ProtocolError{ErrorTag::bad_banner, "peer announced version 0"};
  return version;
}

std::variant<std::uint16_t, ProtocolError> agree_version(std::uint16_t ours,
                                                         std::uint16_t theirs) {
  const std::uint16_t common = std::min(ours, theirs);
  if (common < 1) {
    return ProtocolError{ErrorTag::version_unsupported,
                         "no common protocol version (ours " + std::to_string(ours) +
                             ", theirs " + std::to_string(theirs) + ")"};
  }
  return common;
}

}  // namespace remsh::protocol
