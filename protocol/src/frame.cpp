#include "remsh/protocol/frame.hpp"

#include <string>

#include "remsh/protocol/limits.hpp"

namespace remsh::protocol {
namespace {

ProtocolError bad_frame(std::string message) {
  return {ErrorTag::bad_frame, std::move(message)};
}

std::optional<ProtocolError> expect_fixed_payload(const FrameHeader& h, std::uint32_t size,
                                                  const char* what) {
  if (h.length != size) {
    return bad_frame(std::string(what) + " payload must be " + std::to_string(size) +
                     " bytes, got " + std::to_string(h.length));
  }
  return std::nullopt;
}

}  // namespace

void encode_header(const FrameHeader& h, std::uint8_t (&out)[kFrameHeaderSize]) {
  store_u32(out, h.length);
  out[4] = static_cast<std::uint8_t>(h.type);
  out[5] = h.flags;
  out[6] = h.stream;
  out[7] = 0;
  store_u32(out + 8, h.channel);
  store_u64(out + 12, h.seq);
}

void append_frame(ByteBuffer& out, FrameHeader header, ByteView payload) {
  header.length = static_cast<std::uint32_t>(payload.size());
  std::uint8_t raw[kFrameHeaderSize];
  encode_header(header, raw);
  out.append(ByteView{raw, kFrameHeaderSize});
  out.append(payload);
}

void append_window(ByteBuffer& out, std::uint32_t channel, std::uint64_t seq,
                   std::uint32_t increment) {
  std::uint8_t payload[4];
  store_u32(payload, increment);
  append_frame(out, {.type = FrameType::window, .channel = channel, .seq = seq},
               ByteView{payload, 4});
}

void append_ack(ByteBuffer& out, std::uint64_t received) {
  std::uint8_t payload[8];
  store_u64(payload, received);
  append_frame(out, {.type = FrameType::ack}, ByteView{payload, 8});
}

void append_ping(ByteBuffer& out, FrameType ping_or_pong, std::uint64_t token) {
  std::uint8_t payload[8];
  store_u64(payload, token);
  append_frame(out, {.type = ping_or_pong}, ByteView{payload, 8});
}

std::optional<ProtocolError> validate_header(const FrameHeader& h, std::uint8_t reserved,
                                             std::uint32_t max_payload) {
  if (reserved != 0) return bad_frame("reserved header byte is " + std::to_string(reserved));
  const auto type = static_cast<std::uint8_t>(h.type);
  if (type < 1 || type > 6) return bad_frame("unknown frame type " + std::to_string(type));

  if (h.type != FrameType::data && (h.flags != 0 || h.stream != 0)) {
    return bad_frame("flags and stream must be 0 outside DATA frames");
  }

  switch (h.type) {
    case FrameType::control:
      if (h.length > kMaxControlPayload) {
        return ProtocolError{ErrorTag::frame_too_large,
                             "control payload of " + std::to_string(h.length) +
                                 " bytes exceeds " + std::to_string(kMaxControlPayload)};
      }
      if (h.length == 0) return bad_frame("empty control frame");
      return std::nullopt;
    case FrameType::data:
      if (h.length > max_payload) {
        return ProtocolError{ErrorTag::frame_too_large,
                             "data payload of " + std::to_string(h.length) +
                                 " bytes exceeds " + std::to_string(max_payload)};
      }
      if ((h.flags & ~frame_flags::known) != 0) {
        return bad_frame("unknown DATA flags " + std::to_string(h.flags));
      }
      if ((h.flags & frame_flags::codec_mask) == 3) return bad_frame("codec 3 is reserved");
      if (h.channel == 0) return bad_frame("DATA on channel 0");
      if (h.length == 0 && !h.end_of_stream()) {
        return bad_frame("empty DATA frame without end-of-stream");
      }
      return std::nullopt;
    case FrameType::window:
      if (h.channel == 0) return bad_frame("WINDOW on channel 0");
      return expect_fixed_payload(h, 4, "WINDOW");
    case FrameType::ack:
    case FrameType::ping:
    case FrameType::pong:
      if (h.channel != 0 || h.seq != 0) {
        return bad_frame("ACK/PING/PONG must have channel 0 and seq 0");
      }
      return expect_fixed_payload(h, 8, "ACK/PING/PONG");
  }
  return bad_frame("unreachable frame type");
}

FrameDecoder::FrameDecoder(std::uint32_t max_payload) : max_payload_(clamp(max_payload)) {}

void FrameDecoder::feed(ByteView bytes) {
  buffer_.consume(pending_consume_);
  pending_consume_ = 0;
  buffer_.append(bytes);
}

ByteBuffer FrameDecoder::take_buffered() {
  buffer_.consume(pending_consume_);
  pending_consume_ = 0;
  ByteBuffer rest;
  rest.append(buffer_.view());
  buffer_.clear();
  return rest;
}

FrameDecoder::Result FrameDecoder::next() {
  if (failed_) return *failed_;
  buffer_.consume(pending_consume_);
  pending_consume_ = 0;
  if (buffer_.size() < kFrameHeaderSize) return NeedMore{};

  const std::uint8_t* p = buffer_.data();
  FrameHeader h;
  h.length = load_u32(p);
  h.type = static_cast<FrameType>(p[4]);
  h.flags = p[5];
  h.stream = p[6];
  h.channel = load_u32(p + 8);
  h.seq = load_u64(p + 12);

  // Validate before waiting for the payload, so an oversized length is refused at once
  // instead of after the peer has made us buffer it.
  if (auto error = validate_header(h, p[7], max_payload_)) {
    failed_ = std::move(error);
    return *failed_;
  }
  const std::size_t total = kFrameHeaderSize + h.length;
  if (buffer_.size() < total) return NeedMore{};

  pending_consume_ = total;
  return FrameView{h, ByteView{p + kFrameHeaderSize, h.length}};
}

}  // namespace remsh::protocol
