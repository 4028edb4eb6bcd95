#include "daemon/agent_link.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <iostream>

#include "daemon/command_run.hpp"
#include "daemon/state_dir.hpp"
#include "remsh/protocol/limits.hpp"

namespace remsh::master {

AgentLink::AgentLink(boost::asio::any_io_executor executor, Storage& storage, std::string name,
                     std::string session_id, protocol::SessionConfig config)
    : storage_(storage),
      name_(std::move(name)),
      session_id_(std::move(session_id)),
      session_(std::move(config)),
      writer_done_(executor),
      flush_timer_(executor) {}

std::uint64_t AgentLink::attach(std::int64_t now_ms) {
  connection_ = ++connections_;
  connected_since_ms_ = now_ms;
  last_rx_ = last_tx_ = std::chrono::steady_clock::now();
  silent_ = false;
  wake();  // a previous connection's writer, still installed, finds itself replaced and ends it
  return connection_;
}

void AgentLink::keepalive(std::chrono::steady_clock::time_point now) {
  if (!online()) return;
  session_.flush_ack();
  if (now - last_tx_ >= std::chrono::seconds(protocol::kDefaultKeepaliveS)) {
    session_.send_ping(++pings_);
    last_tx_ = now;  // one PING per quiet interval, whenever the writer gets to it
  }
  if (now - last_rx_ >= std::chrono::seconds(protocol::kDefaultDeadAfterS)) silent_ = true;
  if (!session_.outgoing().empty() || silent_) wake();
}

void AgentLink::detach(std::uint64_t connection) {
  if (connection_ != connection) return;
  connection_ = 0;
  detached_at_ = std::chrono::steady_clock::now();
  session_.connection_lost();
}

AgentLink::ChannelStart AgentLink::start(const boost::json::object& open, std::shared_ptr<ChannelUser> run) {
  if (const std::size_t size = boost::json::serialize(open).size(); size > protocol::kMaxControlPayload) {
    return {std::nullopt, "limit-exceeded",
            "the request is " + std::to_string(size) + " bytes as a message to the agent; at most " +
                std::to_string(protocol::kMaxControlPayload) + " (the command, its environment and paths together)"};
  }
  auto channel = session_.open_channel(open);
  if (!channel) return {std::nullopt, "agent-busy", "agent " + name_ + " has no free channel"};
  run->set_channel(*channel);
  runs_[*channel] = std::move(run);
  wake();
  return {channel, {}, {}};
}

void AgentLink::handle_events() {
  std::vector<std::shared_ptr<ChannelUser>> touched;
  auto run_for = [&](std::uint32_t channel) -> std::shared_ptr<ChannelUser> {
    auto it = runs_.find(channel);
    if (it == runs_.end()) return nullptr;
    touched.push_back(it->second);
    return it->second;
  };
  while (auto event = session_.poll()) {
    if (auto* m = std::get_if<protocol::ChannelMessage>(&*event)) {
      if (auto run = run_for(m->channel)) run->on_message(m->message);
    } else if (auto* d = std::get_if<protocol::ChannelData>(&*event)) {
      if (auto run = run_for(d->channel)) run->on_data(std::move(*d));
    } else if (auto* c = std::get_if<protocol::ChannelCredit>(&*event)) {
      if (auto run = run_for(c->channel)) run->pump_input();
    } else if (auto* f = std::get_if<protocol::ChannelFailed>(&*event)) {
      if (auto run = run_for(f->channel)) run->on_failed(f->error);
    } else if (auto* closed = std::get_if<protocol::ChannelClosed>(&*event)) {
      runs_.erase(closed->channel);
    } else if (auto* cm = std::get_if<protocol::ConnectionMessage>(&*event)) {
      if (cm->message.type == "status") {
        auto parsed = protocol::Status::parse(cm->message.body);
        if (auto* status = std::get_if<protocol::Status>(&parsed)) {
          leaving_ = status->draining;
          if (on_status) on_status(*status);
        }
      }
      if (cm->message.type == "goodbye") {
        auto parsed = protocol::Goodbye::parse(cm->message.body);
        const auto* g = std::get_if<protocol::Goodbye>(&parsed);
        goodbye_ = g && !g->reason.empty() ? g->reason : std::string("no reason given");
      }
      // error: the serve loop's outcome handles it.
    }
  }
  // One batch stores every pending log with the session's position: the position never
  // runs ahead of what is stored, nor behind it (a replay would store it twice).
  const bool due = session_.commit_due() ||
                   std::any_of(touched.begin(), touched.end(), [](const auto& run) { return run->log_flush_due(); });
  if (due || (touched.empty() && unflushed_.empty())) {
    for (auto& weak : unflushed_) {
      if (auto run = weak.lock()) touched.push_back(std::move(run));
    }
    unflushed_.clear();
    commit(touched);
  } else {
    for (auto& run : touched) flush_later(run);
  }
  // ACKs may have made room in the replay buffer: input that waited for room (not for
  // credit, which comes with its own event) goes on now.
  for (auto& [channel, run] : std::map(runs_)) run->pump_input();
  wake();
}

void AgentLink::flush_later(const std::shared_ptr<ChannelUser>& run) {
  unflushed_.push_back(run);
  if (flush_armed_) return;
  flush_armed_ = true;
  // Armed once the handlers already queued have run: setting a timer is a system call, and
  // a keystroke's echo on its way to the client should not wait for it.
  boost::asio::post(flush_timer_.get_executor(), [weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    self->flush_timer_.expires_after(kLogFlushDelay);
    self->flush_timer_.async_wait([weak](const boost::system::error_code&) {
      if (auto link = weak.lock()) link->flush_unflushed();
    });
  });
}

void AgentLink::flush_unflushed() {
  flush_armed_ = false;
  auto weak_runs = std::move(unflushed_);
  unflushed_.clear();
  std::vector<std::shared_ptr<ChannelUser>> runs;
  for (auto& weak : weak_runs) {
    if (auto run = weak.lock()) runs.push_back(std::move(run));
  }
  commit(runs);
  wake();
}

void AgentLink::commit(const std::vector<std::shared_ptr<ChannelUser>>& runs) {
  const std::uint64_t position = session_.received();
  if (runs.empty() && position == committed_) return;  // a PING, a PONG, an ACK: nothing to store
  try {
    Transaction tx(storage_);
    for (auto& run : runs) run->flush_log();  // a second call for one run is a no-op
    if (position != committed_) storage_.set_agent_session_received(session_id_, position);
    tx.commit();
  } catch (const StorageError& e) {
    // Not stored, so not acknowledged: the agent keeps the frames (and, once its replay
    // buffer is full, stops reading its commands' output) until a later batch stores them.
    std::cerr << "remsh-master: agent " << name_ << ": cannot store the session's position: " << e.what()
              << std::endl;
    return;
  }
  committed_ = position;
  session_.committed();
}

std::vector<std::string> AgentLink::work() const {
  std::vector<std::string> out;
  for (const auto& [channel, run] : runs_) {
    if (std::string what = run->describe(); !what.empty()) out.push_back(std::move(what));
  }
  return out;
}

std::size_t AgentLink::commands_running() const {
  return static_cast<std::size_t>(std::count_if(runs_.begin(), runs_.end(), [](const auto& entry) {
    return dynamic_cast<const CommandRun*>(entry.second.get()) != nullptr;
  }));
}

std::shared_ptr<CommandRun> AgentLink::command_run(std::int64_t id) const {
  for (const auto& [channel, user] : runs_) {
    if (auto run = std::dynamic_pointer_cast<CommandRun>(user); run && run->id() == id) return run;
  }
  return nullptr;
}

void AgentLink::end(const std::string& why) {
  auto runs = std::move(runs_);
  runs_.clear();
  for (auto& [channel, run] : runs) run->on_link_gone(why);
  try {
    storage_.close_agent_session(session_id_, now_ms(), why);
  } catch (const StorageError& e) {
    std::cerr << "remsh-master: agent " << name_ << ": cannot close session " << session_id_ << ": "
              << e.what() << std::endl;
  }
}

}  // namespace remsh::master
