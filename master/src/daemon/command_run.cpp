#include "daemon/command_run.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <iostream>

#include "daemon/agent_link.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/state_dir.hpp"

namespace remsh::master {

namespace json = boost::json;

boost::json::object command_json(const CommandRecord& r) {
  json::object o{{"id", r.id},
                 {"agent", r.agent},
                 {"state", r.state},
                 {"started_ms", r.started_ms},
                 {"stdout_bytes", r.stdout_bytes},
                 {"stderr_bytes", r.stderr_bytes}};
  boost::system::error_code ec;
  json::value argv = json::parse(r.argv_json, ec);
  o["command"] = ec ? json::value(r.argv_json) : argv;
  o["exit_code"] = r.exit_code ? json::value(*r.exit_code) : json::value(nullptr);
  o["signal"] = r.signal ? json::value(*r.signal) : json::value(nullptr);
  o["finished_ms"] = r.finished_ms ? json::value(*r.finished_ms) : json::value(nullptr);
  if (r.cwd) o["cwd"] = *r.cwd;
  if (r.error_tag) {
    o["error"] = json::object{{"tag", *r.error_tag}, {"message", r.error_message.value_or("")}};
  }
  json::value result = json::parse(r.result_json, ec);
  if (!ec) o["result"] = result;
  return o;
}

CommandRun::CommandRun(std::int64_t id, Storage& storage, std::shared_ptr<AgentLink> link)
    : id_(id), storage_(storage), link_(link) {}

void CommandRun::set_channel(std::uint32_t channel) {
  channel_ = channel;
  auto link = link_.lock();
  if (!link) return;
  try {
    storage_.set_command_channel(id_, link->session_id(), channel);
  } catch (const StorageError& e) {
    // Only a restart's re-attach needs it: the command itself goes on.
    std::cerr << "remsh-master: command " << id_ << ": cannot record its channel: " << e.what() << std::endl;
  }
}

void CommandRun::reattached(std::uint32_t channel, std::int64_t next_chunk) {
  channel_ = channel;
  next_index_ = next_chunk;
  started_ = true;
  input_ended_ = true;
}

void CommandRun::watch(std::shared_ptr<OutputWatcher> watcher) {
  watchers_.push_back(watcher);
  if (started_) watcher->on_started(id_);
}

void CommandRun::watch_to_the_end(std::shared_ptr<OutputWatcher> watcher) {
  kept_watchers_.push_back(watcher);
  watch(std::move(watcher));
}

template <typename F>
void CommandRun::for_each_watcher(F f) {
  for (auto& w : watchers_) {
    if (auto watcher = w.lock()) f(*watcher);
  }
}

void CommandRun::on_message(const protocol::ControlMessage& m) {
  if (m.type == "opened") {
    started_ = true;
    for_each_watcher([&](OutputWatcher& w) { w.on_started(id_); });
  } else if (m.type == "result") {
    auto parsed = protocol::ExecResult::parse(m.body);
    if (auto* r = std::get_if<protocol::ExecResult>(&parsed)) result_ = *r;
  } else if (m.type == "error") {
    auto parsed = protocol::ErrorMessage::parse(m.body);
    auto e = std::get_if<protocol::ErrorMessage>(&parsed);
    CommandFinish how;
    how.state = "failed";
    how.error_tag = e ? e->tag : "internal";
    how.error_message = e ? e->message : "malformed error";
    finish(std::move(how));
  } else if (m.type == "close") {
    if (auto link = link_.lock()) link->session().close_channel(channel_);
    CommandFinish how;
    if (result_) {
      how.state = result_->reason == "cancelled" ? "cancelled" : "finished";
      how.exit_code = result_->exit_code;
      how.signal = result_->signal;
      how.result_json = json::serialize(result_->to_json());
      if (result_->reason == "timeout" || result_->reason == "no-output-timeout") {
        how.error_tag = "timeout";
        how.error_message = result_->reason;
      }
    } else {
      how.state = "failed";
      how.error_tag = "internal";
      how.error_message = "the agent closed the channel without a result";
    }
    finish(std::move(how));
  }
}

protocol::ChannelData CommandRun::masked(protocol::ChannelData data) {
  std::vector<std::uint8_t> clear = masker_->filter(data.stream, data.bytes);
  if (data.end_of_stream) {
    mask_ended_[data.stream] = true;
    const std::vector<std::uint8_t> rest = masker_->finish(data.stream);
    clear.insert(clear.end(), rest.begin(), rest.end());
  }
  auto encoder = mask_encoders_.try_emplace(data.stream, protocol::Codec::zstd).first;
  data.wire.clear();
  data.codec = protocol::Codec::none;
  if (auto flags = encoder->second.encode_raw(clear, data.end_of_stream); !flags) {
    protocol::ByteBuffer payload;
    const std::uint8_t f = encoder->second.encode(clear, payload, data.end_of_stream);
    data.codec = static_cast<protocol::Codec>(f & protocol::frame_flags::codec_mask);
    const protocol::ByteView view = payload.view();
    data.wire.assign(view.begin(), view.end());
  }
  data.bytes = std::move(clear);
  return data;
}

void CommandRun::on_data(protocol::ChannelData data) {
  // Credit is counted in what the agent sent, whatever masking made of it.
  const std::size_t received = data.bytes.size();
  if (masker_) data = masked(std::move(data));
  const std::size_t n = data.bytes.size();
  OutputChunk out{data.stream, nullptr, protocol::Codec::none, nullptr};
  if (data.codec != protocol::Codec::none && !data.wire.empty()) {
    // Even a frame that decodes to nothing may carry codec state a decoding watcher needs.
    out.codec = data.codec;
    out.wire = std::make_shared<const std::vector<std::uint8_t>>(data.wire);
  }
  if (n > 0 || !data.wire.empty() || data.end_of_stream) {
    LogChunk chunk;
    chunk.command_id = id_;
    chunk.index = next_index_++;
    chunk.stream = data.stream;
    chunk.codec = static_cast<std::uint8_t>(data.codec);
    // Stored as it came: the compressed payload, or the bytes of a raw frame.
    chunk.data = data.codec == protocol::Codec::none ? data.bytes : std::move(data.wire);
    chunk.raw_length = static_cast<std::uint32_t>(n);
    pending_log_.push_back(std::move(chunk));
    pending_log_bytes_ += n;
    pending_log_ends_ = pending_log_ends_ || data.end_of_stream;
  }
  // Masking may hold a frame's bytes back: nothing is relayed then, but the agent still gets
  // its credit once the log is stored.
  const bool relayed = n > 0 || out.wire != nullptr;
  int holders = 1;  // the log store
  if (relayed) {
    for (auto& w : watchers_) {
      if (!w.expired()) ++holders;
    }
  }
  auto done = credit_when_done(received, holders);
  after_flush_.push_back(done);
  if (!relayed) return;
  out.bytes = std::make_shared<const std::vector<std::uint8_t>>(std::move(data.bytes));
  for_each_watcher([&](OutputWatcher& w) { w.on_output(out, done); });
}

std::function<void()> CommandRun::credit_when_done(std::size_t bytes, int holders) {
  auto remaining = std::make_shared<int>(holders);
  return [self = shared_from_this(), remaining, bytes] {
    if (--*remaining == 0 && bytes > 0) {
      if (auto link = self->link_.lock()) {
        link->session().consumed(self->channel_, bytes);
        link->wake();
      }
    }
  };
}

bool CommandRun::log_flush_due() const {
  // Well under the window the master grants (agent_hub.cpp): credit keeps flowing while
  // the next batch fills.
  constexpr std::size_t kLogBatchBytes = std::size_t{1} << 20;
  return pending_log_bytes_ >= kLogBatchBytes || pending_log_ends_ || finished_;
}

void CommandRun::flush_log() {
  pending_log_bytes_ = 0;
  pending_log_ends_ = false;
  if (!pending_log_.empty()) {
    try {
      storage_.append_log_chunks(pending_log_);
    } catch (const StorageError& e) {
      // Losing log bytes silently is the one thing we never do: fail the command loudly.
      pending_log_.clear();
      CommandFinish how;
      how.state = "failed";
      how.error_tag = "storage-error";
      how.error_message = e.what();
      finish(std::move(how));
    }
    pending_log_.clear();
  }
  auto callbacks = std::move(after_flush_);
  after_flush_.clear();
  for (auto& cb : callbacks) cb();
}

void CommandRun::on_failed(const protocol::ProtocolError& error) {
  CommandFinish how;
  how.state = "failed";
  how.error_tag = std::string(protocol::tag_name(error.tag));
  how.error_message = error.message;
  finish(std::move(how));
}

void CommandRun::on_link_gone(const std::string& why) {
  CommandFinish how;
  how.state = "lost";
  how.error_tag = "agent-lost";
  how.error_message = why;
  finish(std::move(how));
}

void CommandRun::finish(CommandFinish how) {
  if (finished_) return;
  HeapTrim::process().note_transient_work();  // its log batches: freed memory to give back
  // A run that ends without its streams' ends (killed, lost) still gets the bytes the masker
  // held back: every byte the agent sent is stored, masked.
  if (masker_) {
    std::vector<std::uint8_t> open_streams;
    for (const auto& [stream, encoder] : mask_encoders_) {
      if (!mask_ended_[stream]) open_streams.push_back(stream);
    }
    for (const std::uint8_t stream : open_streams) on_data(protocol::ChannelData{channel_, stream, {}, true});
  }
  flush_log();
  finished_ = true;
  input_room();
  how.finished_ms = now_ms();
  try {
    storage_.finish_command(id_, how);
  } catch (const StorageError&) {
  }
  auto record = storage_.get_command(id_);
  json::object o = record ? command_json(*record) : json::object{{"id", id_}, {"state", how.state}};
  for_each_watcher([&](OutputWatcher& w) {
    if (!started_ && how.error_tag) {
      w.on_error(*how.error_tag, how.error_message.value_or(""));
    } else {
      w.on_finished(o);
    }
  });
  kept_watchers_.clear();
}

// ---- client to agent ----

bool CommandRun::input_blocked() const { return !input_backlog_.empty(); }

void CommandRun::send_input(protocol::ByteView bytes) {
  if (input_ended_ || finished_) return;
  input_backlog_.append(bytes);
  pump_input();
}

void CommandRun::end_input() {
  if (input_ended_) return;
  input_eof_pending_ = true;
  pump_input();
}

void CommandRun::pump_input() {
  auto link = link_.lock();
  if (!link || finished_ || input_ended_ || !link->session().channel_open(channel_)) return;
  while (!input_backlog_.empty()) {
    std::size_t n = link->session().send_data(channel_, input_stream_, input_backlog_.view());
    if (n == 0) break;
    input_backlog_.consume(n);
  }
  if (input_backlog_.empty() && input_eof_pending_ && link->session().can_send()) {
    link->session().send_data(channel_, input_stream_, {}, true);
    input_ended_ = true;
  }
  link->wake();
  input_room();
}

void CommandRun::send_signal(const std::string& name) {
  auto link = link_.lock();
  if (!link || finished_ || !link->session().channel_open(channel_)) return;
  link->session().send_control(channel_, protocol::Signal{name, true}.to_json());
  link->wake();
}

void CommandRun::resize(std::uint32_t cols, std::uint32_t rows) {
  auto link = link_.lock();
  if (!link || finished_ || !link->session().channel_open(channel_)) return;
  link->session().send_control(channel_, protocol::Resize{cols, rows}.to_json());
  link->wake();
}

}  // namespace remsh::master
