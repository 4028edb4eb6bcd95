#include "daemon/fs_relay.hpp"

namespace remsh::master {

FsRelay::FsRelay(std::shared_ptr<AgentLink> link, std::shared_ptr<OutputWatcher> client)
    : link_(link), client_(std::move(client)) {}

void FsRelay::on_message(const protocol::ControlMessage& m) {
  if (m.type == "close") {
    // Always close our side too (also after an error): the channel id is freed only then.
    if (auto link = link_.lock()) {
      link->session().close_channel(channel_);
      link->wake();
    }
    if (finished_) return;
    if (!result_) return finish_with_error("internal", "the agent closed the channel without a result");
    finished_ = true;
    input_room();
    result_->erase("type");
    client_->on_finished(*result_);
    return;
  }
  if (finished_) return;
  if (m.type == "opened") {
    client_->on_started(0);
  } else if (m.type == "result") {
    result_ = m.body;
  } else if (m.type == "error") {
    auto parsed = protocol::ErrorMessage::parse(m.body);
    auto* e = std::get_if<protocol::ErrorMessage>(&parsed);
    finish_with_error(e ? e->tag : "internal", e ? e->message : "malformed error from the agent");
  }
}

void FsRelay::on_data(protocol::ChannelData data) {
  const std::size_t n = data.bytes.size();
  if (n == 0 || finished_) {
    if (n > 0) {
      if (auto link = link_.lock()) link->session().consumed(channel_, n);
    }
    return;
  }
  auto bytes = std::make_shared<const std::vector<std::uint8_t>>(std::move(data.bytes));
  std::weak_ptr<AgentLink> weak = link_;
  const std::uint32_t channel = channel_;
  client_->on_output({data.stream, bytes}, [weak, channel, n] {
    if (auto link = weak.lock()) {
      link->session().consumed(channel, n);
      link->wake();
    }
  });
}

void FsRelay::on_failed(const protocol::ProtocolError& error) {
  finish_with_error(std::string(protocol::tag_name(error.tag)), error.message);
}

void FsRelay::on_link_gone(const std::string& why) { finish_with_error("agent-lost", why); }

void FsRelay::finish_with_error(const std::string& tag, const std::string& message) {
  if (finished_) return;
  finished_ = true;
  input_room();
  client_->on_error(tag, message);
}

void FsRelay::send_input(protocol::ByteView bytes) {
  if (input_ended_ || finished_) return;
  // Straight from the client's buffer while the channel takes it: only what must wait for
  // credit is copied (a copy of every byte was a quarter of the master's time in an upload).
  if (backlog_.empty()) {
    if (auto link = link_.lock(); link && link->session().channel_open(channel_)) {
      bytes = bytes.subspan(send_what_fits(*link, bytes));
    }
  }
  backlog_.append(bytes);
  pump_input();
}

std::size_t FsRelay::send_what_fits(AgentLink& link, protocol::ByteView bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const std::size_t n = link.session().send_data(channel_, protocol::stream_id::file, bytes.subspan(sent));
    if (n == 0) break;
    sent += n;
  }
  return sent;
}

void FsRelay::end_input() {
  if (input_ended_) return;
  eof_pending_ = true;
  pump_input();
}

void FsRelay::pump_input() {
  auto link = link_.lock();
  if (!link || finished_ || input_ended_ || !link->session().channel_open(channel_)) return;
  backlog_.consume(send_what_fits(*link, backlog_.view()));
  if (backlog_.empty() && eof_pending_ && link->session().can_send()) {
    link->session().send_data(channel_, protocol::stream_id::file, {}, true);
    input_ended_ = true;
  }
  link->wake();
  input_room();
}

void FsRelay::cancel() {
  if (finished_) return;
  finished_ = true;
  backlog_.clear();
  input_room();
  if (auto link = link_.lock(); link && link->session().channel_open(channel_)) {
    link->session().close_channel(channel_);
    link->wake();
  }
}

}  // namespace remsh::master
