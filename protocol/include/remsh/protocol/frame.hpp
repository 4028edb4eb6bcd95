// Frames: the unit of the wire (docs/protocol.md, "Framing").
//
// Every frame is a 20-byte big-endian header followed by `length` payload bytes:
//
//   0  u32 length   payload bytes after the header
//   4  u8  type     FrameType
//   5  u8  flags    DATA only: bits 0-1 codec, bit 2 end-of-stream; otherwise 0
//   6  u8  stream   DATA only: stream id; otherwise 0
//   7  u8  reserved 0
//   8  u32 channel  0 = the connection itself
//  12  u64 seq      0 = unsequenced
//
// FrameDecoder turns a byte stream split at arbitrary points into validated frames.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/error.hpp"
#include "remsh/protocol/limits.hpp"

namespace remsh::protocol {

inline constexpr std::size_t kFrameHeaderSize = 20;

enum class FrameType : std::uint8_t {
  control = 1,
  data = 2,
  window = 3,
  ack = 4,
  ping = 5,
  pong = 6,
};

enum class Codec : std::uint8_t { none = 0, deflate = 1, zstd = 2 };

namespace frame_flags {
inline constexpr std::uint8_t codec_mask = 0x03;
inline constexpr std::uint8_t end_of_stream = 0x04;
inline constexpr std::uint8_t known = codec_mask | end_of_stream;
}  // namespace frame_flags

// Stream ids carried by DATA frames.
namespace stream_id {
inline constexpr std::uint8_t stdin_ = 0;
inline constexpr std::uint8_t stdout_ = 1;
inline constexpr std::uint8_t stderr_ = 2;
inline constexpr std::uint8_t tty = 3;
inline constexpr std::uint8_t file = 4;
inline constexpr std::uint8_t first_named_log = 16;
}  // namespace stream_id

struct FrameHeader {
  std::uint32_t length = 0;
  FrameType type = FrameType::control;
  std::uint8_t flags = 0;
  std::uint8_t stream = 0;
  std::uint32_t channel = 0;
  std::uint64_t seq = 0;

  Codec codec() const { return static_cast<Codec>(flags & frame_flags::codec_mask); }
  bool end_of_stream() const { return (flags & frame_flags::end_of_stream) != 0; }
  bool is_sequenced_type() const {
    return type == FrameType::control || type == FrameType::data || type == FrameType::window;
  }
};

// A decoded frame whose payload points into the decoder's buffer: valid until the next
// call to FrameDecoder::feed() or next().
struct FrameView {
  FrameHeader header;
  ByteView payload;
};

// Writes header (with length = payload.size()) and payload to out.
void append_frame(ByteBuffer& out, FrameHeader header, ByteView payload);
void encode_header(const FrameHeader& header, std::uint8_t (&out)[kFrameHeaderSize]);

// Checks one header on its own (no connection state): known type, zero reserved fields,
// flags/stream only on DATA, fixed payload sizes, channel/seq rules per type, and the
// payload bound. The payload bound is `max_payload` for DATA and kMaxControlPayload for
// CONTROL.
std::optional<ProtocolError> validate_header(const FrameHeader& header,
                                             std::uint8_t reserved,
                                             std::uint32_t max_payload);

// Builders for the fixed-layout frames.
void append_window(ByteBuffer& out, std::uint32_t channel, std::uint64_t seq,
                   std::uint32_t increment);
void append_ack(ByteBuffer& out, std::uint64_t received);
void append_ping(ByteBuffer& out, FrameType ping_or_pong, std::uint64_t token);

class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t max_payload = kDefaultFramePayload);

  // Appends received bytes. Invalidates FrameViews returned earlier.
  void feed(ByteView bytes);

  struct NeedMore {};
  using Result = std::variant<NeedMore, FrameView, ProtocolError>;

  // The next complete frame, NeedMore, or the error that ends the connection. After an
  // error the decoder stays failed and keeps returning it.
  Result next();

  // Bytes buffered but not yet returned as frames.
  std::size_t buffered() const { return buffer_.size() - pending_consume_; }
  // Hands over the bytes not yet returned as frames (e.g. to the session decoder that
  // takes over after the handshake) and empties this decoder.
  ByteBuffer take_buffered();
  void set_max_payload(std::uint32_t max_payload) { max_payload_ = clamp(max_payload); }

 private:
  static std::uint32_t clamp(std::uint32_t max_payload) {
    return max_payload < kMinFramePayload   ? kMinFramePayload
           : max_payload > kMaxFramePayload ? kMaxFramePayload
                                            : max_payload;
  }

  ByteBuffer buffer_;
  std::size_t pending_consume_ = 0;  // bytes of the frame returned last
  std::uint32_t max_payload_;
  std::optional<ProtocolError> failed_;
};

}  // namespace remsh::protocol
