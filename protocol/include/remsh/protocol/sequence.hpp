// Reliability: sequence numbers, acknowledgements and replay (docs/protocol.md,
// "Reliability and resume").
//
// Every CONTROL, DATA and WINDOW frame of an established session carries a sequence number,
// 1, 2, 3, ... per direction. The sender keeps each frame until the peer acknowledges it, so
// after a reconnect it can send again exactly what the peer never got. The bytes kept are
// bounded: when the buffer is full the sender stops producing (back-pressure), it never drops.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/error.hpp"
#include "remsh/protocol/fifo_queue.hpp"
#include "remsh/protocol/frame.hpp"

namespace remsh::protocol {

class ReplayBuffer {
 public:
  explicit ReplayBuffer(std::uint64_t max_bytes) : max_bytes_(max_bytes) {}

  // Gives the frame the next sequence number, keeps a copy and appends its wire bytes to
  // `out`. Returns the number given.
  std::uint64_t send(FrameHeader header, ByteView payload, ByteBuffer& out);
  // The same without sending: the frame goes out with the next replay() (the link is down).
  std::uint64_t keep(FrameHeader header, ByteView payload);

  // The peer has everything up to and including `received`. Acknowledging more than was
  // sent is a bad-sequence error; an older acknowledgement is ignored.
  std::optional<ProtocolError> acknowledge(std::uint64_t received);

  // After a reconnect: the peer reports it holds everything up to `received`. Drops what it
  // has and appends every frame after it to `out`, in order. A `received` beyond what was
  // sent, or older than frames already discarded, is resume-failed.
  std::optional<ProtocolError> replay(std::uint64_t received, ByteBuffer& out);
  // The same check and drop, for a writer that sends from frame() itself.
  std::optional<ProtocolError> rewind(std::uint64_t received);

  // The frame numbered `seq` as on the wire (acknowledged() < seq <= last_sent()). Its bytes
  // stay where they are until it is acknowledged, whatever is sent meanwhile.
  ByteView frame(std::uint64_t seq) const { return frames_[seq - acknowledged() - 1].view(); }

  // True when the unacknowledged bytes reach the bound: stop producing new frames.
  bool full() const { return bytes_ >= max_bytes_; }
  void shrink_to_fit() {
    frames_.shrink_to_fit();
    spare_.clear();
    spare_.shrink_to_fit();
  }
  std::uint64_t unacked_bytes() const { return bytes_; }
  std::size_t unacked_frames() const { return frames_.size(); }
  std::uint64_t last_sent() const { return next_seq_ - 1; }
  // A restarted master lost what it sent: it goes on numbering after what the peer holds.
  void restart_after(std::uint64_t peer_received) {
    frames_.clear();
    spare_.clear();
    bytes_ = 0;
    next_seq_ = peer_received + 1;
  }
  std::uint64_t acknowledged() const { return next_seq_ - 1 - frames_.size(); }

 private:
  std::uint64_t max_bytes_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t bytes_ = 0;
  // Unacknowledged frames, oldest first, each as on the wire in its own buffer: memory
  // follows what is unacknowledged (one sliding buffer kept about twice the bound touched,
  // and three times while it grew).
  FifoQueue<ByteBuffer> frames_;
  // Buffers of acknowledged frames, reused for the next ones: a stream of 1 MiB frames that
  // got a fresh buffer each faulted in ~100 MB of new pages per GiB sent (malloc hands big
  // blocks back to the kernel), which is slow, most of all on a VM.
  static constexpr std::size_t kSpareFrames = 2;
  std::vector<ByteBuffer> spare_;
};

class ReceiveSequence {
 public:
  enum class Verdict { deliver, duplicate };

  // Checks the seq of an incoming sequenced frame: the next one is delivered; one already
  // received (a replay overlapping what arrived before a cut) is a duplicate to drop; a gap
  // or seq 0 is bad-sequence.
  std::variant<Verdict, ProtocolError> accept(const FrameHeader& header);

  std::uint64_t received() const { return received_; }

  // Returns the value for an ACK frame once `ack_every` frames or `ack_bytes` wire bytes
  // arrived since the last ACK (the caller also acks on an idle timer: pending()).
  std::optional<std::uint64_t> ack_due(std::size_t frame_wire_bytes);
  std::optional<std::uint64_t> pending();  // ack now if anything is unacknowledged
  std::optional<std::uint64_t> due();      // ack now if the policy says so
  // Acknowledgements never go beyond `limit` (what the receiver has made durable); a due
  // ACK waits for the limit to move (the next pending()).
  void limit_acks_to(std::uint64_t limit) { ack_limit_ = limit; }
  // A restarted master: it holds (durably) everything up to `received`.
  void restore(std::uint64_t received) { received_ = acked_ = received; }

  // The policy asks for an ACK that the limit holds back: the receiver should make what it
  // holds durable now (and move the limit).
  bool held_back() const {
    return acked_ < received_ && (frames_since_ack_ >= ack_every_frames_ || bytes_since_ack_ >= ack_every_bytes_);
  }

  void set_ack_policy(std::uint32_t every_frames, std::uint64_t every_bytes) {
    ack_every_frames_ = every_frames;
    ack_every_bytes_ = every_bytes;
  }

 private:
  std::uint64_t received_ = 0;
  std::uint64_t acked_ = 0;
  std::uint64_t ack_limit_ = UINT64_MAX;
  std::uint32_t frames_since_ack_ = 0;
  std::uint64_t bytes_since_ack_ = 0;
  std::uint32_t ack_every_frames_ = 64;
  std::uint64_t ack_every_bytes_ = 1u << 20;
};

}  // namespace remsh::protocol
