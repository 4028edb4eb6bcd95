#include "remsh/protocol/sequence.hpp"

#include <algorithm>

#include <string>

namespace remsh::protocol {

std::uint64_t ReplayBuffer::send(FrameHeader header, ByteView payload, ByteBuffer& out) {
  const std::uint64_t seq = keep(header, payload);
  out.append(frames_.back().view());
  return seq;
}

std::uint64_t ReplayBuffer::keep(FrameHeader header, ByteView payload) {
  header.seq = next_seq_++;
  ByteBuffer& frame = frames_.emplace_back();
  if (!spare_.empty()) {
    frame = std::move(spare_.back());  // cleared when it was kept
    spare_.pop_back();
  }
  frame.reserve(kFrameHeaderSize + payload.size());
  append_frame(frame, header, payload);
  bytes_ += frame.size();
  return header.seq;
}

std::optional<ProtocolError> ReplayBuffer::acknowledge(std::uint64_t received) {
  if (received > last_sent()) {
    return ProtocolError{ErrorTag::bad_sequence,
                         "ACK of " + std::to_string(received) + " but only " +
                             std::to_string(last_sent()) + " frames were sent"};
  }
  while (acknowledged() < received) {
    ByteBuffer& frame = frames_.front();
    bytes_ -= frame.size();
    if (spare_.size() < kSpareFrames) {
      frame.clear();
      spare_.push_back(std::move(frame));
    }
    frames_.pop_front();
  }
  return std::nullopt;
}

std::optional<ProtocolError> ReplayBuffer::replay(std::uint64_t received, ByteBuffer& out) {
  if (auto error = rewind(received)) return error;
  for (const ByteBuffer& frame : frames_) out.append(frame.view());
  return std::nullopt;
}

std::optional<ProtocolError> ReplayBuffer::rewind(std::uint64_t received) {
  if (received < acknowledged()) {
    return ProtocolError{ErrorTag::resume_failed,
                         "peer resumes from " + std::to_string(received) +
                             " but frames up to " + std::to_string(acknowledged()) +
                             " were acknowledged and discarded"};
  }
  if (auto error = acknowledge(received)) {
    return ProtocolError{ErrorTag::resume_failed, error->message};
  }
  return std::nullopt;
}

std::variant<ReceiveSequence::Verdict, ProtocolError> ReceiveSequence::accept(
    const FrameHeader& header) {
  if (header.seq == received_ + 1) {
    received_ = header.seq;
    return Verdict::deliver;
  }
  if (header.seq != 0 && header.seq <= received_) return Verdict::duplicate;
  return ProtocolError{ErrorTag::bad_sequence,
                       "expected seq " + std::to_string(received_ + 1) + ", got " +
                           std::to_string(header.seq)};
}

std::optional<std::uint64_t> ReceiveSequence::ack_due(std::size_t frame_wire_bytes) {
  ++frames_since_ack_;
  bytes_since_ack_ += frame_wire_bytes;
  return due();
}

std::optional<std::uint64_t> ReceiveSequence::due() {
  if (frames_since_ack_ < ack_every_frames_ && bytes_since_ack_ < ack_every_bytes_) {
    return std::nullopt;
  }
  return pending();
}

std::optional<std::uint64_t> ReceiveSequence::pending() {
  const std::uint64_t upto = std::min(received_, ack_limit_);
  if (acked_ >= upto) return std::nullopt;
  acked_ = upto;
  frames_since_ack_ = 0;
  bytes_since_ack_ = 0;
  return upto;
}

}  // namespace remsh::protocol
