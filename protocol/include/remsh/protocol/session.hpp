// Session: the protocol state of one established remsh session (docs/protocol.md 7-11),
// pure: bytes in, events out, bytes to send out. No sockets, no clocks, no threads.
//
// It owns what both ends share: frame decoding, sequence numbers and the replay buffer,
// ACKs, PING/PONG answers, the channel table with its lifecycle rules, per-channel credit
// in both directions, and per-stream compression. The agent and the master wrap it in their
// connection code and act on the events; what a channel *does* (run a process, store a
// log) is theirs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "remsh/protocol/channel_window.hpp"
#include "remsh/protocol/fifo_queue.hpp"
#include "remsh/protocol/frame.hpp"
#include "remsh/protocol/messages.hpp"
#include "remsh/protocol/sequence.hpp"
#include "remsh/protocol/stream_codec.hpp"

namespace remsh::protocol {

struct SessionConfig {
  bool is_master = false;
  Capabilities local;         // what we announced in our hello
  Capabilities remote;        // what the peer announced
  std::vector<Codec> codecs;  // agreed in welcome; the first is used for sending
  // Acknowledge only what the owner declared durable (committed()): a master that stores
  // what it receives, so that a crash never loses an acknowledged byte (docs/protocol.md 7.4).
  bool ack_only_committed = false;
  // The owner's writer sends sequenced frames straight from the replay buffer
  // (take_unwritten()); outgoing() then holds only unsequenced frames (ACK, PING, PONG).
  // Each frame is then kept once instead of twice until it is written.
  bool write_from_replay = false;
};

// What a restarted master rebuilds a session from (docs/protocol.md 7.4): the stored
// position and the channels it re-attaches.
struct RestoredSession {
  std::uint64_t received = 0;       // the highest seq it stored from the agent
  std::uint64_t peer_received = 0;  // hello.resume.received: it numbers on from here
  std::uint64_t peer_sent = 0;      // hello.resume.sent: the end of the agent's replay
};

// A control message that arrived on an open channel (validated).
struct ChannelMessage {
  std::uint32_t channel;
  ControlMessage message;
};

// Decoded stream bytes; call Session::consumed() once they are taken care of. The frame's
// payload as it arrived (compressed or not, `codec`) comes along for whoever stores streams
// without recompressing them (the master's log store).
struct ChannelData {
  std::uint32_t channel;
  std::uint8_t stream;
  std::vector<std::uint8_t> bytes;
  bool end_of_stream;
  Codec codec = Codec::none;
  std::vector<std::uint8_t> wire;  // the payload as received, when compressed (else empty)
};

// The peer granted credit on a channel: sending may continue.
struct ChannelCredit {
  std::uint32_t channel;
};

// The peer broke a channel rule; the session already sent error + close for it.
struct ChannelFailed {
  std::uint32_t channel;
  ProtocolError error;
};

// Both sides have closed the channel; its id is free.
struct ChannelClosed {
  std::uint32_t channel;
};

// A control message on channel 0 (goodbye, error).
struct ConnectionMessage {
  ControlMessage message;
};

using SessionEvent = std::variant<ChannelMessage, ChannelData, ChannelCredit, ChannelFailed,
                                  ChannelClosed, ConnectionMessage>;

class Session {
 public:
  explicit Session(SessionConfig config);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- incoming ----

  // Bytes read from the connection. A returned error ends the connection (send it as an
  // error message, then close); the session is then unusable.
  std::optional<ProtocolError> receive(ByteView bytes);
  std::optional<SessionEvent> poll();

  // The consumer has dealt with n bytes of a channel's data: may grant credit.
  void consumed(std::uint32_t channel, std::size_t n);

  // ---- outgoing ----

  // Bytes to write to the connection, in order. The caller consumes what it wrote.
  ByteBuffer& outgoing() { return out_; }
  // write_from_replay: the next sequenced frame to write, which from now on counts as sent
  // (an ACK may cover it); nullopt when all are. The bytes stay valid until an ACK covers
  // the frame: the peer cannot acknowledge what was not written in full. Unsequenced frames
  // in outgoing() may go before or after it.
  std::optional<ByteView> take_unwritten();
  // Bytes of sequenced frames not taken yet (write_from_replay).
  std::uint64_t unwritten_bytes() const { return unwritten_bytes_; }

  // Opens a channel (master: odd ids). Returns the id, or nullopt when the peer's
  // max_channels are in use.
  std::optional<std::uint32_t> open_channel(const boost::json::object& open);
  // Sends a control message on an open channel (or channel 0).
  void send_control(std::uint32_t channel, const boost::json::object& message);
  // Sends up to data.size() bytes of a stream, limited by credit, the peer's max_frame and
  // the replay buffer; returns how many were taken (0: wait for ChannelCredit / acks).
  // With `end` the stream ends after the bytes taken, if all were taken.
  std::size_t send_data(std::uint32_t channel, std::uint8_t stream, ByteView data,
                        bool end = false);
  std::uint64_t credit(std::uint32_t channel) const;
  // Sends an error then close on a channel.
  void fail_channel(std::uint32_t channel, const ProtocolError& error);
  // Sends close (once); the channel is freed when the peer's close arrives (or already did).
  void close_channel(std::uint32_t channel);
  bool channel_open(std::uint32_t channel) const;
  std::size_t open_channels() const { return channels_.size(); }

  // False while the replay buffer is full: produce nothing new until ACKs arrive.
  bool can_send() const { return !replay_.full(); }

  // ---- reliability ----

  // Sends an ACK now if anything is unacknowledged (the caller's idle timer).
  void flush_ack();
  void send_ping(std::uint64_t token);

  // The connection was lost: forget unsent bytes (sequenced frames stay in the replay
  // buffer) and partial frames. Until resume(), new sequenced frames wait in the replay
  // buffer only, and outgoing() stays empty.
  void connection_lost();
  // A new connection resumed this session; the peer holds our frames up to
  // `peer_received`. Queues the replay into outgoing().
  std::optional<ProtocolError> resume(std::uint64_t peer_received);
  // Everything received so far is durable: ACKs may cover it (ack_only_committed).
  void committed();
  // ack_only_committed: an ACK is due (7.2's frames or bytes since the last one) but waits
  // for committed(): the owner should store what it holds now.
  bool commit_due() const { return sequence_.held_back(); }

  // ---- a restarted master (docs/protocol.md 7.4) ----

  // Takes up the position of a stored session. Until the agent's replay has arrived,
  // frames of channels not re-attached are dropped and no channel opens.
  void restore(const RestoredSession& state);
  // Re-attaches a channel that was open before the restart: no credit to send (its input
  // is gone), and room to receive the agent's unknown leftover credit plus `window`, which
  // the caller then grants.
  void restore_channel(std::uint32_t channel);
  // Rebuilds a stream's decoder by decoding a stored frame payload again (as it arrived).
  std::optional<ProtocolError> restore_stream(std::uint32_t channel, std::uint8_t stream,
                                              std::uint8_t flags, ByteView payload);
  // Grants credit on a channel now (a re-attached one).
  void grant(std::uint32_t channel, std::uint32_t increment);
  // Agent: drops a channel the restarted master did not re-attach, without a word.
  void forget_channel(std::uint32_t channel);
  // Agent: drops every channel but `keep`, also one whose owner already ended and that only
  // waits for the master's close (which a restarted master never sends); returns how many.
  std::size_t forget_channels_except(const std::vector<std::uint32_t>& keep);
  std::uint64_t received() const { return sequence_.received(); }
  std::uint64_t last_sent() const { return replay_.last_sent(); }
  std::uint64_t acknowledged() const { return replay_.acknowledged(); }
  std::uint64_t replay_bytes() const { return replay_.unacked_bytes(); }
  // The most stream bytes one DATA frame takes (the peer's max_frame less room for a
  // compressor's worst case): a sender that reads this much at a time fills whole frames.
  // The largest chunk of stream bytes one DATA frame takes: room is left below the peer's
  // max_frame for what compression adds to incompressible bytes (deflate: ~0.03 % plus a few
  // bytes per flush; zstd: at most 1/256 plus a block header).
  std::size_t max_data_chunk() const { return config_.remote.max_frame - config_.remote.max_frame / 128 - 64; }
  const Capabilities& remote_capabilities() const { return config_.remote; }
  // Gives back the capacity its buffers grew to at their peak (for an idle agent).
  void release_memory() {
    replay_.shrink_to_fit();
    scratch_.shrink_to_fit();
    out_.shrink_to_fit();
  }

 private:
  struct Channel;

  std::optional<ProtocolError> handle_frame(const FrameView& frame);
  std::optional<ProtocolError> handle_control(const FrameView& frame);
  std::optional<ProtocolError> handle_data(const FrameView& frame);
  std::optional<ProtocolError> handle_window(const FrameView& frame);
  Channel* find(std::uint32_t channel);
  const Channel* find(std::uint32_t channel) const;
  void send_sequenced(FrameHeader header, ByteView payload);
  void free_if_done(std::uint32_t channel);
  bool peer_may_open(std::uint32_t channel) const;

  SessionConfig config_;
  FrameDecoder decoder_;
  ReplayBuffer replay_;
  ReceiveSequence sequence_;
  ByteBuffer out_;
  ByteBuffer scratch_;
  std::map<std::uint32_t, std::unique_ptr<Channel>> channels_;
  FifoQueue<SessionEvent> events_;
  std::uint32_t next_channel_;
  std::optional<ProtocolError> failed_;
  bool linked_ = true;  // false from connection_lost() to resume()
  std::uint64_t taken_ = 0;           // write_from_replay: the last seq take_unwritten() gave out
  std::uint64_t unwritten_bytes_ = 0;  // write_from_replay: frames after taken_, in bytes
  std::uint64_t replay_end_ = 0;  // restored: the agent's last seq before the restart
};

}  // namespace remsh::protocol
