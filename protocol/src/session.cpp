#include "remsh/protocol/session.hpp"

#include <algorithm>
#include <cassert>
#include <string>

namespace remsh::protocol {

struct Session::Channel {
  Channel(std::uint64_t send_credit, std::uint32_t receive_window)
      : send(send_credit), receive(receive_window) {}

  SendWindow send;
  ReceiveWindow receive;
  std::map<std::uint8_t, StreamEncoder> encoders;
  std::map<std::uint8_t, StreamDecoder> decoders;
  bool local_closed = false;
  bool remote_closed = false;
};

namespace {
// Streams by direction (docs/protocol.md 10.1): 0 stdin from the master; 1 stdout and
// 2 stderr from the agent; 3 terminal and 4 file bodies both ways; 16-255 named logs from
// the agent; 5-15 reserved.
bool stream_allowed(std::uint8_t stream, bool from_master) {
  if (stream == 3 || stream == 4) return true;
  if (stream == 0) return from_master;
  if (stream == 1 || stream == 2 || stream >= 16) return !from_master;
  return false;
}

ProtocolError bad_channel(std::uint32_t channel, const char* what) {
  return {ErrorTag::bad_channel, std::string(what) + " on channel " + std::to_string(channel)};
}
}  // namespace

Session::Session(SessionConfig config)
    : config_(std::move(config)),
      decoder_(config_.local.max_frame),
      replay_(config_.local.replay_bytes),
      next_channel_(config_.is_master ? 1 : 2) {
  if (config_.ack_only_committed) sequence_.limit_acks_to(0);
  // 7.2 asks for an ACK every 64 frames or 1 MiB; sooner for a peer whose replay buffer is
  // small, which stops sending when it is full and would wait for the one-second idle ACK.
  sequence_.set_ack_policy(64, std::clamp<std::uint64_t>(config_.remote.replay_bytes / 4, 1, std::uint64_t{1} << 20));
}

Session::~Session() = default;

// ---- incoming ----

std::optional<ProtocolError> Session::receive(ByteView bytes) {
  if (failed_) return failed_;
  decoder_.feed(bytes);
  for (;;) {
    auto r = decoder_.next();
    if (std::holds_alternative<FrameDecoder::NeedMore>(r)) return std::nullopt;
    if (auto* e = std::get_if<ProtocolError>(&r)) {
      failed_ = *e;
      return failed_;
    }
    if (auto error = handle_frame(std::get<FrameView>(r))) {
      failed_ = std::move(error);
      return failed_;
    }
  }
}

std::optional<SessionEvent> Session::poll() {
  if (events_.empty()) return std::nullopt;
  SessionEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<ProtocolError> Session::handle_frame(const FrameView& frame) {
  const FrameHeader& h = frame.header;
  switch (h.type) {
    case FrameType::ack: {
      const std::uint64_t received = load_u64(frame.payload.data());
      if (config_.write_from_replay && received > taken_) {
        // Numbered but never written: only a peer that guesses would acknowledge it.
        return ProtocolError{ErrorTag::bad_sequence, "ACK of " + std::to_string(received) + " but only " +
                                                         std::to_string(taken_) + " frames were sent"};
      }
      return replay_.acknowledge(received);
    }
    case FrameType::ping:
      append_ping(out_, FrameType::pong, load_u64(frame.payload.data()));
      return std::nullopt;
    case FrameType::pong:
      return std::nullopt;
    default:
      break;
  }
  // The one unsequenced message after the welcome: an error that ends the connection. The
  // side sending it may be failing because the session itself broke (docs/protocol.md 7.1).
  if (h.type == FrameType::control && h.seq == 0 && h.channel == 0) {
    auto parsed = parse_control(frame.payload);
    if (auto* m = std::get_if<ControlMessage>(&parsed); m && m->type == "error" && !validate_control(*m)) {
      events_.push_back(ConnectionMessage{std::move(*m)});
      return std::nullopt;
    }
  }
  auto verdict = sequence_.accept(h);
  if (auto* e = std::get_if<ProtocolError>(&verdict)) return *e;
  if (std::get<ReceiveSequence::Verdict>(verdict) == ReceiveSequence::Verdict::duplicate) {
    return std::nullopt;
  }
  // The agent's replay after a master restart may carry frames of channels that ended, or
  // that the master did not re-attach: they are history, dropped (docs/protocol.md 7.4).
  const bool history = h.seq <= replay_end_ && h.channel != 0 && !find(h.channel);
  if (!history) {
    std::optional<ProtocolError> error;
    switch (h.type) {
      case FrameType::control: error = handle_control(frame); break;
      case FrameType::data: error = handle_data(frame); break;
      case FrameType::window: error = handle_window(frame); break;
      default: break;
    }
    if (error) return error;
  }
  if (auto ack = sequence_.ack_due(kFrameHeaderSize + frame.payload.size())) {
    append_ack(out_, *ack);
  }
  return std::nullopt;
}

bool Session::peer_may_open(std::uint32_t channel) const {
  // Version 1: only the master opens channels, with odd ids.
  return !config_.is_master && channel % 2 == 1;
}

std::optional<ProtocolError> Session::handle_control(const FrameView& frame) {
  const std::uint32_t id = frame.header.channel;
  auto parsed = parse_control(frame.payload);
  if (id == 0) {
    if (auto* e = std::get_if<ProtocolError>(&parsed)) return *e;
    auto& m = std::get<ControlMessage>(parsed);
    // `status` only where we announced we take it (a master's capabilities).
    const bool allowed = m.type == "goodbye" || m.type == "error" ||
                         (m.type == "status" && config_.local.status);
    if (!allowed) {
      return ProtocolError{ErrorTag::unknown_message,
                           "message \"" + m.type + "\" not allowed on channel 0 here"};
    }
    if (auto e = validate_control(m)) return e;
    events_.push_back(ConnectionMessage{std::move(m)});
    return std::nullopt;
  }

  Channel* ch = find(id);
  const bool is_open = std::holds_alternative<ControlMessage>(parsed) &&
                       std::get<ControlMessage>(parsed).type == "open";
  if (!ch) {
    if (!is_open) return bad_channel(id, "message for a channel that is not open");
    if (!peer_may_open(id)) return bad_channel(id, "open of a channel id the peer may not use");
    if (channels_.size() >= config_.local.max_channels) {
      return ProtocolError{ErrorTag::limit_exceeded,
                           "more than " + std::to_string(config_.local.max_channels) +
                               " channels open"};
    }
    auto created = std::make_unique<Channel>(config_.remote.window, config_.local.window);
    ch = created.get();
    channels_.emplace(id, std::move(created));
  } else if (ch->remote_closed) {
    return bad_channel(id, "message after close");
  } else if (is_open) {
    return bad_channel(id, "open of a channel already open");
  }

  if (auto* e = std::get_if<ProtocolError>(&parsed)) {
    if (!ch->local_closed) {
      fail_channel(id, *e);
      events_.push_back(ChannelFailed{id, *e});
    }
    return std::nullopt;
  }
  auto& m = std::get<ControlMessage>(parsed);
  if (m.type == "close") {
    ch->remote_closed = true;
    if (ch->local_closed) {
      free_if_done(id);
    } else {
      events_.push_back(ChannelMessage{id, std::move(m)});
    }
    return std::nullopt;
  }
  if (ch->local_closed) return std::nullopt;  // in flight when we closed: dropped
  if (auto e = validate_control(m)) {
    fail_channel(id, *e);
    events_.push_back(ChannelFailed{id, *e});
    return std::nullopt;
  }
  events_.push_back(ChannelMessage{id, std::move(m)});
  return std::nullopt;
}

std::optional<ProtocolError> Session::handle_data(const FrameView& frame) {
  const std::uint32_t id = frame.header.channel;
  Channel* ch = find(id);
  if (!ch || ch->remote_closed) return bad_channel(id, "DATA for a channel that is not open");
  if (ch->local_closed) return std::nullopt;  // in flight when we closed: dropped

  const std::uint8_t stream = frame.header.stream;
  if (!stream_allowed(stream, /*from_master=*/!config_.is_master)) {
    ProtocolError e{ErrorTag::bad_channel, "DATA on stream " + std::to_string(stream) +
                                               " which the sender may not use"};
    fail_channel(id, e);
    events_.push_back(ChannelFailed{id, e});
    return std::nullopt;
  }
  auto it = ch->decoders.find(stream);
  if (it == ch->decoders.end()) {
    if (ch->decoders.size() >= kMaxStreamsPerChannel) {
      return ProtocolError{ErrorTag::limit_exceeded,
                           "more than " + std::to_string(kMaxStreamsPerChannel) +
                               " streams on channel " + std::to_string(id)};
    }
    it = ch->decoders.emplace(stream, StreamDecoder(config_.codecs)).first;
  }
  auto& decoder = it->second;
  ByteView decoded;  // the payload itself when it has no codec: one copy less per byte
  if (auto e = decoder.decode_view(frame.header.flags, frame.payload, scratch_,
                                   ch->receive.remaining(), decoded)) {
    if (e->tag == ErrorTag::bad_channel) {
      fail_channel(id, *e);
      events_.push_back(ChannelFailed{id, *e});
      return std::nullopt;
    }
    return e;  // flow-control and codec errors end the connection
  }
  if (auto e = ch->receive.on_received(decoded.size())) return e;
  ChannelData data{id, frame.header.stream, std::vector<std::uint8_t>(decoded.begin(), decoded.end()),
                   frame.header.end_of_stream(), frame.header.codec(), {}};
  if (data.codec != Codec::none) data.wire.assign(frame.payload.begin(), frame.payload.end());
  events_.push_back(std::move(data));
  return std::nullopt;
}

std::optional<ProtocolError> Session::handle_window(const FrameView& frame) {
  const std::uint32_t id = frame.header.channel;
  Channel* ch = find(id);
  if (!ch || ch->remote_closed) return bad_channel(id, "WINDOW for a channel that is not open");
  if (ch->local_closed) return std::nullopt;
  if (auto e = ch->send.grant(load_u32(frame.payload.data()))) return e;
  events_.push_back(ChannelCredit{id});
  return std::nullopt;
}

void Session::consumed(std::uint32_t channel, std::size_t n) {
  Channel* ch = find(channel);
  if (!ch || ch->local_closed) return;
  if (auto increment = ch->receive.on_consumed(n)) grant(channel, *increment);
}

// ---- outgoing ----

void Session::send_sequenced(FrameHeader header, ByteView payload) {
  // While the link is down a copy in outgoing() would only be thrown away by resume().
  if (!linked_) {
    replay_.keep(header, payload);
  } else if (config_.write_from_replay) {
    replay_.keep(header, payload);
    unwritten_bytes_ += kFrameHeaderSize + payload.size();
  } else {
    replay_.send(header, payload, out_);
  }
}

std::optional<ByteView> Session::take_unwritten() {
  assert(config_.write_from_replay);
  if (!linked_ || taken_ >= replay_.last_sent()) return std::nullopt;
  const ByteView frame = replay_.frame(++taken_);
  unwritten_bytes_ -= frame.size();
  return frame;
}

std::optional<std::uint32_t> Session::open_channel(const boost::json::object& open) {
  if (channels_.size() >= config_.remote.max_channels) return std::nullopt;
  // After a restart, a new channel could take the id of one the replay still mentions.
  if (sequence_.received() < replay_end_) return std::nullopt;
  // Find a free id of our parity; ids wrap around far beyond any realistic use.
  std::uint32_t id = next_channel_;
  while (channels_.count(id) || id == 0) id += 2;
  next_channel_ = id + 2;
  channels_.emplace(id, std::make_unique<Channel>(config_.remote.window, config_.local.window));
  send_control(id, open);
  return id;
}

void Session::send_control(std::uint32_t channel, const boost::json::object& message) {
  assert((channel == 0 || find(channel)) && "control message on a channel we do not have");
  std::string text = serialize(message);
  assert(text.size() <= kMaxControlPayload);
  send_sequenced({.type = FrameType::control, .channel = channel}, as_bytes(text));
}

std::size_t Session::send_data(std::uint32_t channel, std::uint8_t stream, ByteView data,
                               bool end) {
  Channel* ch = find(channel);
  assert(ch && !ch->local_closed && "DATA on a channel we closed or never had");
  if (!ch || ch->local_closed || !can_send()) return 0;
  // Keep each frame within the peer's max_frame even when compression does not help.
  const std::size_t max_chunk = max_data_chunk();
  std::size_t take = std::min<std::uint64_t>({data.size(), ch->send.credit(), max_chunk});
  if (take == 0 && !(end && data.empty())) return 0;
  auto it = ch->encoders.find(stream);
  if (it == ch->encoders.end()) {
    const Codec codec = config_.codecs.empty() ? Codec::none : config_.codecs.front();
    it = ch->encoders.emplace(stream, StreamEncoder(codec)).first;
  }
  const bool ends = end && take == data.size();
  // A raw chunk is framed from the caller's bytes; only a compressed one needs scratch space.
  ByteView payload = data.first(take);
  std::optional<std::uint8_t> flags = it->second.encode_raw(payload, ends);
  if (!flags) {
    scratch_.clear();
    flags = it->second.encode(payload, scratch_, ends);
    if (scratch_.size() > config_.remote.max_frame) {
      // Compression expanded the chunk past the frame limit: cannot happen for chunks this
      // far below it with deflate/zstd bounds, but never send an oversized frame.
      assert(false && "compressed chunk exceeds max_frame");
      return 0;
    }
    payload = scratch_.view();
  }
  ch->send.consume(take);
  send_sequenced({.type = FrameType::data, .flags = *flags, .stream = stream, .channel = channel},
                 payload);
  return take;
}

std::uint64_t Session::credit(std::uint32_t channel) const {
  const Channel* ch = find(channel);
  return ch ? ch->send.credit() : 0;
}

void Session::fail_channel(std::uint32_t channel, const ProtocolError& error) {
  Channel* ch = find(channel);
  if (!ch || ch->local_closed) return;
  send_control(channel, ErrorMessage::from(error).to_json());
  close_channel(channel);
}

void Session::close_channel(std::uint32_t channel) {
  Channel* ch = find(channel);
  if (!ch || ch->local_closed) return;
  send_control(channel, Close{}.to_json());
  ch->local_closed = true;
  free_if_done(channel);
}

bool Session::channel_open(std::uint32_t channel) const {
  const Channel* ch = find(channel);
  return ch && !ch->local_closed;
}

void Session::free_if_done(std::uint32_t channel) {
  Channel* ch = find(channel);
  if (ch && ch->local_closed && ch->remote_closed) {
    channels_.erase(channel);
    events_.push_back(ChannelClosed{channel});
  }
}

Session::Channel* Session::find(std::uint32_t channel) {
  auto it = channels_.find(channel);
  return it == channels_.end() ? nullptr : it->second.get();
}

const Session::Channel* Session::find(std::uint32_t channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? nullptr : it->second.get();
}

// ---- reliability ----

void Session::flush_ack() {
  if (auto ack = sequence_.pending()) append_ack(out_, *ack);
}

void Session::committed() {
  sequence_.limit_acks_to(sequence_.received());
  // Whatever a commit made durable is acknowledged at once. Waiting for 64 frames or 1 MiB
  // since the last ACK stalled a sender whose replay buffer holds only a few big frames: the
  // last frames of a batch stayed unacknowledged until the one-second idle ACK.
  if (auto ack = sequence_.pending()) append_ack(out_, *ack);
}

void Session::restore(const RestoredSession& state) {
  assert(config_.is_master && channels_.empty());
  sequence_.restore(state.received);
  if (config_.ack_only_committed) sequence_.limit_acks_to(state.received);
  replay_.restart_after(state.peer_received);
  taken_ = state.peer_received;
  unwritten_bytes_ = 0;
  replay_end_ = state.peer_sent;
}

void Session::restore_channel(std::uint32_t channel) {
  // The agent may hold up to a window of credit we can no longer account for, plus the
  // window granted now: accept up to twice the window on this channel.
  auto ch = std::make_unique<Channel>(0, config_.local.window);
  ch->receive.on_restart();
  channels_[channel] = std::move(ch);
}

std::optional<ProtocolError> Session::restore_stream(std::uint32_t channel, std::uint8_t stream,
                                                     std::uint8_t flags, ByteView payload) {
  Channel* ch = find(channel);
  assert(ch && "restore_stream before restore_channel");
  if (!ch) return ProtocolError{ErrorTag::internal, "no such channel"};
  auto it = ch->decoders.try_emplace(stream, StreamDecoder(config_.codecs)).first;
  scratch_.clear();
  auto e = it->second.decode(flags, payload, scratch_, SIZE_MAX);
  scratch_.clear();
  return e;
}

void Session::grant(std::uint32_t channel, std::uint32_t increment) {
  if (!find(channel) || increment == 0) return;
  std::uint8_t payload[4];
  store_u32(payload, increment);
  send_sequenced({.type = FrameType::window, .channel = channel}, ByteView{payload, 4});
}

void Session::forget_channel(std::uint32_t channel) { channels_.erase(channel); }

std::size_t Session::forget_channels_except(const std::vector<std::uint32_t>& keep) {
  return std::erase_if(channels_, [&](const auto& entry) {
    return std::find(keep.begin(), keep.end(), entry.first) == keep.end();
  });
}

void Session::send_ping(std::uint64_t token) { append_ping(out_, FrameType::ping, token); }

void Session::connection_lost() {
  linked_ = false;
  out_.clear();
  unwritten_bytes_ = 0;
  decoder_ = FrameDecoder(config_.local.max_frame);
  failed_.reset();
}

std::optional<ProtocolError> Session::resume(std::uint64_t peer_received) {
  linked_ = true;
  out_.clear();
  if (!config_.write_from_replay) return replay_.replay(peer_received, out_);
  if (auto error = replay_.rewind(peer_received)) return error;
  taken_ = peer_received;  // every frame after it is written again
  unwritten_bytes_ = replay_.unacked_bytes();
  return std::nullopt;
}

}  // namespace remsh::protocol
