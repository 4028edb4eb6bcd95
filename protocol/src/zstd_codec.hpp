// The zstd codec, apart from the rest: a build without libzstd (the Windows agent; mingw-w64
// has no libzstd) links zstd_codec_absent.cpp instead and simply does not offer it
// (docs/protocol.md 5: zstd is optional and negotiated, deflate is the codec everyone has).
#pragma once

#include <memory>
#include <string>

#include "remsh/protocol/stream_codec.hpp"

namespace remsh::protocol {

bool zstd_available();
// nullptr when zstd_available() is false.
std::unique_ptr<StreamCompressor> make_zstd_compressor(int level);
std::unique_ptr<StreamDecompressor> make_zstd_decompressor();

namespace codec_detail {

inline constexpr std::size_t kOutChunk = 64 * 1024;

inline ProtocolError codec_error(std::string message) { return {ErrorTag::codec_error, std::move(message)}; }

// Output space for the next decoder call: one byte beyond the limit is enough to know the
// limit is exceeded.
inline std::size_t output_room(std::size_t limit, std::size_t produced) {
  const std::size_t left = limit - produced;
  return left >= kOutChunk ? kOutChunk : left + 1;
}

inline ProtocolError over_limit(std::size_t limit) {
  return {ErrorTag::flow_control, "stream bytes exceed the " + std::to_string(limit) + " bytes of credit left"};
}

}  // namespace codec_detail
}  // namespace remsh::protocol
