// Per-stream compression (docs/protocol.md, "Data streams and compression").
//
// Each stream of a channel is one compressed stream in one codec. The sender flushes at the
// end of every frame, so a receiver can decode each frame as it arrives: live output stays
// live. Raw deflate (RFC 1951) is the codec everyone has; zstd is optional and negotiated.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/error.hpp"
#include "remsh/protocol/frame.hpp"

namespace remsh::protocol {

std::string_view codec_name(Codec codec);  // "none", "deflate", "zstd"
std::optional<Codec> codec_from_name(std::string_view name);

class StreamCompressor {
 public:
  // level: 1 (fastest) is the default everywhere; deflate accepts 1-9, zstd 1-19.
  static std::unique_ptr<StreamCompressor> create(Codec codec, int level = 1);
  virtual ~StreamCompressor() = default;

  // Compresses `in` and appends output that decodes to all input given so far.
  // With `independent`, the output from here on decodes without earlier history (deflate
  // full flush, end of a zstd frame): a point where a stored log can be read from.
  virtual void compress(ByteView in, ByteBuffer& out, bool independent = false) = 0;
  virtual Codec codec() const = 0;
};

class StreamDecompressor {
 public:
  static std::unique_ptr<StreamDecompressor> create(Codec codec);
  virtual ~StreamDecompressor() = default;

  // Decodes one frame's payload, appending the stream bytes to `out`. Producing more than
  // `limit` bytes is an error (flow-control: the peer sent beyond its credit, or a
  // decompression bomb); corrupt input is codec-error. After an error the stream is dead.
  virtual std::optional<ProtocolError> decompress(ByteView in, ByteBuffer& out,
                                                  std::size_t limit) = 0;
};

// Sends one stream: compresses chunks with the session's codec unless compression does not
// pay, in which case chunks go raw for a while (incompressible bytes, e.g. archives).
class StreamEncoder {
 public:
  explicit StreamEncoder(Codec codec, int level = 1);

  // Appends the DATA payload for `chunk` to `payload` and returns the frame's flags
  // (codec bits, plus end-of-stream when `end`).
  std::uint8_t encode(ByteView chunk, ByteBuffer& payload, bool end = false);
  // When `chunk` would go out raw anyway (no codec, too small, or backing off), counts it
  // and returns its flags: the caller sends the chunk itself as the payload, without the
  // copy encode() makes. Otherwise nullopt, and the caller calls encode().
  std::optional<std::uint8_t> encode_raw(ByteView chunk, bool end = false);

  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

 private:
  Codec codec_;
  int level_;
  std::unique_ptr<StreamCompressor> compressor_;
  unsigned raw_chunks_left_ = 0;  // chunks to send raw before trying compression again
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
};

// Receives one stream: enforces one codec per stream, nothing after end-of-stream, and the
// output bound; decodes compressed frames and passes raw ones through.
class StreamDecoder {
 public:
  // `allowed`: the compressed codecs negotiated for the session (any other is codec-error).
  explicit StreamDecoder(std::vector<Codec> allowed = {Codec::deflate, Codec::zstd});

  // Decodes the payload of one DATA frame with the given flags, appending stream bytes to
  // `out`, at most `limit` of them.
  std::optional<ProtocolError> decode(std::uint8_t flags, ByteView payload, ByteBuffer& out,
                                      std::size_t limit);
  // The same, without copying a frame that has no codec: `decoded` is then `payload` itself;
  // a compressed frame is decoded into `scratch` (cleared first) and `decoded` views that.
  std::optional<ProtocolError> decode_view(std::uint8_t flags, ByteView payload, ByteBuffer& scratch,
                                           std::size_t limit, ByteView& decoded);
  bool ended() const { return ended_; }

 private:
  // `out` null: a frame without codec is only checked, not appended anywhere.
  std::optional<ProtocolError> decode_frame(std::uint8_t flags, ByteView payload,
                                            ByteBuffer* out, std::size_t limit);

  std::vector<Codec> allowed_;
  std::optional<ProtocolError> failed_;  // a stream that failed once stays failed
  std::unique_ptr<StreamDecompressor> decompressor_;
  Codec codec_ = Codec::none;  // the compressed codec in use, once one was seen
  bool ended_ = false;
};

}  // namespace remsh::protocol
