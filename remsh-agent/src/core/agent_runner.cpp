#include "core/agent_runner.hpp"

#include <algorithm>

#include "core/utf8_path.hpp"
#include "remsh/protocol/utf8.hpp"
#include "platform/child_process.hpp"

#include "core/exec_channel.hpp"
#include "core/fs_channel.hpp"
#include "core/handshake_driver.hpp"
#include "core/log.hpp"
#include "platform/first_of.hpp"
#include "platform/host_facts.hpp"
#include "platform/memory.hpp"
#include "platform/random.hpp"
#include "platform/shell.hpp"
#include "platform/transport.hpp"
#include "remsh/protocol/auth.hpp"
#include "remsh/protocol/fs_request.hpp"
#include "remsh/protocol/handshake.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <utility>

#ifndef REMSH_VERSION
#define REMSH_VERSION "0"
#endif

namespace remsh::agent {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using protocol::ErrorTag;
using protocol::ProtocolError;

namespace {

constexpr const char* kSoftware = "remsh-agent/" REMSH_VERSION;
constexpr auto kTick = std::chrono::seconds(1);
constexpr auto kFlushGrace = std::chrono::seconds(2);  // for a goodbye or error before closing
constexpr std::size_t kReadBuffer = 64 * 1024;
// Channels pause while this much waits for the socket (frames in the replay buffer not yet
// written): letting it grow to the replay bound (4 MiB) bought no speed, as the kernel's
// socket buffer keeps the wire busy meanwhile, and kept an ACK or a keystroke behind it.
constexpr std::size_t kWriteBacklog = 1u << 20;
// Small frames are copied together into one write up to this size; a frame above a quarter
// of it is written on its own, from the replay buffer.
constexpr std::size_t kGatherBytes = 64u << 10;

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

// One TCP/TLS connection of the session: lives from the welcome to the close.
struct AgentRunner::Connection {
  Connection(const asio::any_io_executor& executor, std::unique_ptr<Transport> t)
      : transport(std::move(t)), tick(executor) {}

  std::unique_ptr<Transport> transport;
  asio::steady_timer tick;
  Clock::time_point established = Clock::now();
  Clock::time_point last_received = established;
  Clock::time_point last_sent = established;
  bool ended = false;
  bool flush_first = false;  // write what is queued (a goodbye, an error) before closing
  bool closed = false;
  std::string reason;  // why it ended, for the log
};

struct AgentRunner::Established {
  std::unique_ptr<Transport> transport;
  protocol::ByteBuffer leftover;  // the session's first bytes, read with the welcome
};

AgentRunner::AgentRunner(asio::any_io_executor executor, RunnerOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      secret_(protocol::from_hex(options_.config.secret).value_or(std::vector<std::uint8_t>{})),
      work_area_(options_.config.work_dir, [this] {
        // The owner's say: agent.json's paths, the policy's, or everything when unconfined.
        std::vector<std::filesystem::path> roots = options_.config.allowed_paths;
        for (const auto& p : options_.policy.allow_paths) roots.push_back(p);
        if (!options_.policy.confine) roots.push_back(std::filesystem::path(options_.config.work_dir).root_path());
        return roots;
      }()),
      writer_wake_(executor_),
      send_ready_(executor_),
      stop_wake_(executor_),
      backoff_(options_.backoff),
      backoff_timer_(executor_),
      idle_timer_(executor_),
      jitter_(std::random_device{}()) {}

AgentRunner::~AgentRunner() { abandon_channels(); }

// ---- the reconnect loop ----

asio::awaitable<void> AgentRunner::run() {
  while (!stopping_) {
    std::string why;
    bool served = false;
    Clock::duration lasted{};
    // What the master had sent and acknowledged before this connection: a new frame from
    // it, or an ACK of more of ours, means the connection did work (it was cut, not
    // refused), which restarts the backoff schedule. An agent streaming output gets only
    // ACKs back, and must not back off further at each cut while it makes progress.
    const std::uint64_t received_before = session_ ? session_->received() : 0;
    const std::uint64_t acked_before = session_ ? session_->acknowledged() : 0;
    try {
      auto first = co_await first_of(establish(), wait_for_stop());
      if (first.index() == 1) break;
      Established est = std::move(std::get<0>(first));
      Connection connection(executor_, std::move(est.transport));
      connection_ = &connection;
      co_await serve(connection, std::move(est.leftover));
      connection_ = nullptr;
      served = true;
      why = connection.reason;
      lasted = Clock::now() - connection.established;
    } catch (const HandshakeError& e) {
      connection_ = nullptr;
      why = e.what();
      if (e.error().tag == ErrorTag::auth_failed) refused_by_master(e.error().message);
    } catch (const std::exception& e) {
      connection_ = nullptr;
      why = e.what();
    }
    // Unsent bytes belong to the dead connection; sequenced frames wait in the replay buffer.
    if (session_) session_->connection_lost();
    if (stopping_) break;
    log_line((served ? "connection lost: " : "connection failed: ") + why);
    if (served) {
      const bool progress = session_ && (session_->received() > received_before || session_->acknowledged() > acked_before);
      backoff_.connection_ended(lasted, progress);
    }
    const auto delay = backoff_.next(std::uniform_real_distribution<double>(0.0, 1.0)(jitter_));
    log_line("reconnecting in " + seconds_text(delay));
    backoff_timer_.expires_after(delay);
    boost::system::error_code ignored;  // stop() cancels the wait
    co_await backoff_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  log_line("stopped");
}

asio::awaitable<void> AgentRunner::wait_for_stop() {
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  while (!stopping_) {
    co_await stop_wake_.wait();
    // Cancelled because establish() finished first: end, or the group never completes.
    if (state.cancelled() != asio::cancellation_type::none) co_return;
  }
}

void AgentRunner::stop() { stop_with("agent shutting down"); }

void AgentRunner::stop_with(const std::string& reason) {
  if (stopping_) return;
  stopping_ = true;
  log_line("stopping: ending " + std::to_string(channels_.size()) + " channel(s)");
  abandon_channels();
  if (connection_ && !connection_->ended && session_) {
    session_->send_control(0, protocol::Goodbye{reason}.to_json());
    end_connection(*connection_, reason, /*flush=*/true);
  }
  stop_wake_.notify();
  backoff_timer_.cancel();
}

// Retrying cannot help: the credentials are revoked or unknown to this master.
void AgentRunner::refused_by_master(const std::string& why) {
  log_line("the master refused this agent's credentials (" + why +
           "); not retrying: enrol again with a new token if this agent should come back");
  refused_ = true;
  stop();
}

void AgentRunner::leave() {
  if (stopping_ || leaving_) return;
  leaving_ = true;
  log_line("leaving gracefully: accepting no new work; " + std::to_string(channels_.size()) +
           " channel(s) still running");
  send_status();
  stop_when_idle();
}

// The end of a graceful leave: once the last channel has ended.
void AgentRunner::stop_when_idle() {
  if (leaving_ && channels_.empty()) stop_with("the agent's owner stopped it (graceful leave)");
}

// Tells a master that takes status messages that this agent is leaving.
void AgentRunner::send_status() {
  if (!leaving_ || !session_ || !session_->remote_capabilities().status) return;
  session_->send_control(0, protocol::Status{true, "the agent's owner asked it to leave"}.to_json());
  wake_writer();
}

namespace {

void make_text_valid(boost::json::value& v) {
  if (auto* text = v.if_string()) {
    *text = protocol::to_utf8_lossy(*text);
  } else if (auto* array = v.if_array()) {
    for (auto& e : *array) make_text_valid(e);
  } else if (auto* object = v.if_object()) {
    for (auto& member : *object) make_text_valid(member.value());
  }
}

}  // namespace

boost::json::object AgentRunner::hello_facts() const {
  boost::json::object facts = host_facts(options_.config.work_dir);
  const AgentConfig& c = options_.config;
  if (!c.admin.empty()) facts["admin"] = c.admin;
  if (!c.description.empty()) facts["description"] = c.description;
  boost::json::array labels;
  for (const auto& l : c.labels) labels.emplace_back(l);
  facts["labels"] = std::move(labels);
  facts["policy"] = options_.policy.to_json();
  facts["work_dir"] = utf8_string(c.work_dir);
  // Facts are for people. A host name, path or label that is not UTF-8 would make the hello
  // invalid JSON text (docs/protocol.md 5), and the master would refuse the agent.
  boost::json::value all(std::move(facts));
  make_text_valid(all);
  return std::move(all.get_object());
}

// ---- connect and handshake ----

protocol::Capabilities AgentRunner::local_capabilities() const {
  protocol::Capabilities caps;  // zstd + deflate, default sizes
  caps.resume = true;
  caps.pty = pty_supported();
  // The agent lives on someone else's machine: keep its memory small. A link down longer
  // than this lasts makes the agent stop reading its children's output (they block); nothing
  // is lost. 4 MiB still covers ~10 ms of a fast stream between the master's ACKs.
  caps.replay_bytes = 4u << 20;
  caps.reattach = true;  // a restarted master may take up the commands that kept running
  return caps;
}

asio::awaitable<AgentRunner::Established> AgentRunner::establish() {
  const AgentConfig& config = options_.config;
  if (config.plaintext && !options_.allow_plaintext) {
    throw std::runtime_error("the master is configured as plaintext; refusing without --insecure-plaintext");
  }
  TransportOptions transport_options{config.master, config.plaintext, config.fingerprint,
                                     options_.connect_timeout};
  std::unique_ptr<Transport> transport = co_await connect_transport(executor_, transport_options);
  log_line("connected to " + config.master + " (" + transport->peer() +
           (config.plaintext ? ", plaintext)" : ", TLS)"));

  protocol::Hello hello;
  hello.software = kSoftware;
  hello.capabilities = local_capabilities();
  hello.nonce = random_hex(32);
  hello.facts = hello_facts();
  if (session_) hello.resume = protocol::ResumeRequest{session_id_, session_->received(), session_->last_sent()};
  protocol::AgentHandshake handshake(hello, protocol::AgentCredentials{config.name, secret_},
                                     std::nullopt);
  co_await drive_handshake(*transport, handshake, options_.handshake_timeout);

  const protocol::Welcome& welcome = handshake.welcome();
  keepalive_s_ = welcome.keepalive_s;
  dead_after_s_ = welcome.dead_after_s;
  if (welcome.resumed && session_ && welcome.session == session_id_) {
    session_->connection_lost();
    if (welcome.restarted) keep_only_channels(welcome.channels);
    if (auto error = session_->resume(welcome.received)) {
      // We cannot give the master what it lacks: tell it, and start clean next time.
      protocol::ByteBuffer frame;
      protocol::append_frame(frame, {.type = protocol::FrameType::control},
                             protocol::as_bytes(protocol::serialize(protocol::ErrorMessage::from(*error).to_json())));
      abandon_channels();
      session_.reset();
      session_id_.clear();
      try {
        co_await transport->write(asio::buffer(frame.data(), frame.size()));
      } catch (const std::exception&) {
        // best effort
      }
      throw std::runtime_error("cannot resume: " + error->describe());
    }
    log_line("session " + session_id_ + " resumed (replaying " +
             std::to_string(session_->unwritten_bytes()) + " bytes)");
  } else {
    if (session_) {
      log_line("session " + session_id_ + " was not resumed: ending its " +
               std::to_string(channels_.size()) + " channel(s)");
      abandon_channels();
    }
    protocol::SessionConfig session_config;
    session_config.is_master = false;
    session_config.local = local_capabilities();
    session_config.remote = handshake.master_hello().capabilities;
    session_config.codecs = welcome.codecs;
    session_config.write_from_replay = true;  // the writer below sends frames from where they are kept
    session_ = std::make_unique<protocol::Session>(std::move(session_config));
    session_id_ = welcome.session;
    log_line("session " + session_id_ + " started");
  }
  send_status();  // still leaving after a reconnect
  co_return Established{std::move(transport), handshake.take_leftover()};
}

// ---- serving one connection ----

asio::awaitable<void> AgentRunner::serve(Connection& c, protocol::ByteBuffer leftover) {
  if (!leftover.empty()) receive(c, leftover.view());
  send_ready_.notify();  // channels that waited through the outage may go on
  wake_writer();         // the replay, and whatever was produced meanwhile
  // All three run until the connection ends; each ends it (end_connection) on its way out,
  // which wakes the others. (`&&` would also cancel the others if one threw.)
  co_await (reader(c) && writer(c) && ticker(c));
}

void AgentRunner::end_connection(Connection& c, std::string why, bool flush) {
  if (c.ended) return;
  c.ended = true;
  c.reason = std::move(why);
  c.flush_first = flush;
  if (!flush) {
    c.transport->close();
    c.closed = true;
  }
  writer_wake_.notify();
  c.tick.cancel();
}

asio::awaitable<void> AgentRunner::reader(Connection& c) {
  std::vector<std::uint8_t> buf(kReadBuffer);
  while (!c.ended) {
    std::size_t n = 0;
    try {
      n = co_await c.transport->read_some(asio::buffer(buf));
    } catch (const boost::system::system_error& e) {
      end_connection(c, e.code() == asio::error::eof ? "the master closed the connection" : e.code().message(),
                     false);
      break;
    } catch (const std::exception& e) {
      end_connection(c, e.what(), false);
      break;
    }
    if (c.ended) break;
    c.last_received = Clock::now();
    receive(c, protocol::ByteView{buf.data(), n});
  }
}

void AgentRunner::receive(Connection& c, protocol::ByteView bytes) {
  auto error = session_->receive(bytes);
  // Frames before a bad one were accepted (and count as received): act on them.
  dispatch_events(c);
  if (error) {
    send_connection_error(*error);
    end_connection(c, "protocol error: " + error->describe(), /*flush=*/true);
  }
  send_ready_.notify();  // credit or ACKs may have arrived
  if (backlog() > 0) wake_writer();
}

asio::awaitable<void> AgentRunner::writer(Connection& c) {
  // A big frame goes out from where the session keeps it until it is acknowledged: no copy on
  // its way. Unsequenced frames (ACK, PONG) and runs of small frames are gathered in `chunk`,
  // one write for many; its memory is reused from one write to the next.
  protocol::ByteBuffer chunk;
  for (;;) {
    while (!c.ended && backlog() == 0) {
      if (std::exchange(release_write_buffer_, false)) {
        chunk.shrink_to_fit();
        release_free_memory();
      }
      co_await writer_wake_.wait();
    }
    if (c.ended && (!c.flush_first || c.closed || backlog() == 0)) break;
    const bool last = c.ended;  // flushing a goodbye or an error: all of it in one write, then close
    const bool was_behind = backlog() >= kWriteBacklog;
    std::optional<protocol::ByteView> big;
    std::swap(chunk, session_->outgoing());  // chunk was empty
    while (last || chunk.size() < kGatherBytes) {
      auto frame = session_->take_unwritten();
      if (!frame) break;
      if (!last && frame->size() > kGatherBytes / 4) {
        big = frame;
        break;
      }
      chunk.append(*frame);
    }
    if (was_behind && backlog() < kWriteBacklog) send_ready_.notify();  // paused channels go on
    try {
      if (!chunk.empty()) co_await c.transport->write(asio::buffer(chunk.data(), chunk.size()));
      if (big) co_await c.transport->write(asio::buffer(big->data(), big->size()));
    } catch (const std::exception& e) {
      end_connection(c, std::string("writing: ") + e.what(), false);
      break;
    }
    chunk.clear();
    c.last_sent = Clock::now();
    if (last) break;
  }
  c.transport->close();
  c.closed = true;
  c.tick.cancel();
}

asio::awaitable<void> AgentRunner::ticker(Connection& c) {
  while (!c.ended) {
    c.tick.expires_after(kTick);
    boost::system::error_code ignored;
    co_await c.tick.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (c.ended) break;
    const auto now = Clock::now();
    if (now - c.last_received >= std::chrono::seconds(dead_after_s_)) {
      const std::string why = "nothing received from the master for " + std::to_string(dead_after_s_) + " s";
      send_connection_error({ErrorTag::keepalive_timeout, why});
      end_connection(c, why, /*flush=*/true);
      break;
    }
    session_->flush_ack();
    if (now - c.last_sent >= std::chrono::seconds(keepalive_s_)) session_->send_ping(++ping_token_);
    if (backlog() > 0) wake_writer();
  }
  // A goodbye or error being flushed gets a short grace; then the connection closes anyway.
  if (c.flush_first && !c.closed) {
    c.tick.expires_after(kFlushGrace);
    boost::system::error_code ignored;
    co_await c.tick.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    c.transport->close();
    c.closed = true;
  }
}

// An error on channel 0 that ends the connection: unsequenced, since the session itself
// is what failed (docs/protocol.md 12).
void AgentRunner::send_connection_error(const ProtocolError& error) {
  const std::string text = protocol::serialize(protocol::ErrorMessage::from(error).to_json());
  protocol::append_frame(session_->outgoing(), {.type = protocol::FrameType::control},
                         protocol::as_bytes(text));
  wake_writer();
}

// ---- session events ----

void AgentRunner::dispatch_events(Connection& c) {
  while (auto event = session_->poll()) {
    if (auto* m = std::get_if<protocol::ChannelMessage>(&*event)) {
      if (m->message.type == "open") {
        // A later frame of the same read may already have failed the channel (an open
        // followed by a malformed message): then there is nothing to start.
        if (session_->channel_open(m->channel)) open_channel(m->channel, m->message);
      } else if (auto it = channels_.find(m->channel); it != channels_.end()) {
        auto channel = it->second;  // it may erase itself from the table
        channel->on_message(m->message);
      } else if (m->message.type != "close" && session_->channel_open(m->channel)) {
        session_->fail_channel(m->channel, {ErrorTag::internal, "channel has no handler"});
      } else if (m->message.type == "close") {
        session_->close_channel(m->channel);
      }
    } else if (auto* d = std::get_if<protocol::ChannelData>(&*event)) {
      if (auto it = channels_.find(d->channel); it != channels_.end()) {
        auto channel = it->second;
        channel->on_data(std::move(*d));
      } else {
        session_->consumed(d->channel, d->bytes.size());
      }
    } else if (std::holds_alternative<protocol::ChannelCredit>(*event)) {
      send_ready_.notify();
    } else if (auto* f = std::get_if<protocol::ChannelFailed>(&*event)) {
      log_line("channel " + std::to_string(f->channel) + " failed: " + f->error.describe());
      if (auto it = channels_.find(f->channel); it != channels_.end()) {
        auto channel = it->second;
        channel->on_failed();
      }
    } else if (auto* closed = std::get_if<protocol::ChannelClosed>(&*event)) {
      channels_.erase(closed->channel);
      release_memory_when_idle();
    } else if (auto* cm = std::get_if<protocol::ConnectionMessage>(&*event)) {
      const auto& body = cm->message.body;
      if (cm->message.type == "goodbye") {
        auto g = protocol::Goodbye::parse(body);
        const auto* goodbye = std::get_if<protocol::Goodbye>(&g);
        end_connection(c, "the master said goodbye" + (goodbye ? ": " + goodbye->reason : std::string()), false);
      } else {
        auto e = protocol::ErrorMessage::parse(body);
        const auto* error = std::get_if<protocol::ErrorMessage>(&e);
        if (error && error->tag == protocol::tag_name(ErrorTag::auth_failed)) {
          refused_by_master(error->message);
          continue;
        }
        end_connection(c, "the master sent an error" + (error ? ": " + error->tag + ": " + error->message : std::string()),
                       false);
      }
    }
  }
}

void AgentRunner::open_channel(std::uint32_t id, const protocol::ControlMessage& open) {
  // The session validated the open (validate_control): the kind is known and well formed.
  auto kind = open.body.find("kind");
  const std::string_view name = (kind != open.body.end() && kind->value().is_string())
                                    ? std::string_view(kind->value().get_string())
                                    : std::string_view();
  ChannelHost& host = *this;
  if (name == "notice") {  // taken even while leaving: it is for the owner
    auto parsed = protocol::NoticeRequest::parse(open.body);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) return refuse_open(id, *error);
    return take_notice(id, std::get<protocol::NoticeRequest>(parsed));
  }
  if (leaving_) {
    return refuse_open(id, {ErrorTag::agent_draining, "the agent is leaving and accepts no new work"});
  }
  if (name == "exec") {
    auto parsed = protocol::ExecRequest::parse(open.body);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) return refuse_open(id, *error);
    auto& request = std::get<protocol::ExecRequest>(parsed);
    const auto running = std::count_if(channels_.begin(), channels_.end(), [](const auto& entry) {
      return std::dynamic_pointer_cast<ExecChannel>(entry.second) != nullptr;
    });
    if (auto denied = check_exec_request(options_.policy, static_cast<std::size_t>(running), request)) {
      return refuse_open(id, *denied);
    }
    if (request.interactive && request.argv.empty() && !request.shell) request.argv = login_shell_argv();
    auto channel = std::make_shared<ExecChannel>(host, id, options_.config.work_dir);
    channels_[id] = channel;
    channel->start(request);
  } else if (name == "fs") {
    auto parsed = protocol::FsRequest::parse(open.body);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) return refuse_open(id, *error);
    auto channel = std::make_shared<FsChannel>(host, id, work_area_);
    channels_[id] = channel;
    channel->start(std::get<protocol::FsRequest>(parsed));
  } else {
    refuse_open(id, {ErrorTag::unsupported, "this agent runs exec, fs and notice channels only"});
  }
}

// A notice (docs/protocol.md 9.8): shown in the log, kept in CONFIG_DIR/messages.log, and
// acknowledged only once kept, so the master offers it again if this fails.
void AgentRunner::take_notice(std::uint32_t id, const protocol::NoticeRequest& notice) {
  const std::string from = notice.from.value_or("the master");
  if (notice.rename && *notice.rename != options_.config.name) {
    AgentConfig renamed = options_.config;
    renamed.name = *notice.rename;
    try {
      save_config(options_.config_dir, renamed);
    } catch (const std::exception& e) {
      log_line(std::string("cannot save the new name: ") + e.what());
      return refuse_open(id, {ErrorTag::io_error, e.what()});
    }
    log_line("renamed by the master: " + options_.config.name + " -> " + *notice.rename);
    options_.config.name = *notice.rename;
  }
  if (!notice.text.empty()) {
    const std::string entry = log_timestamp() + " message " + notice.id + " from " + from + ": " + notice.text + "\n";
    std::ofstream out(options_.config_dir / "messages.log", std::ios::binary | std::ios::app);
    out << entry;
    out.flush();
    if (!out) {
      log_line("cannot keep message " + notice.id + " in " + (options_.config_dir / "messages.log").string());
      return refuse_open(id, {ErrorTag::io_error, "cannot write messages.log"});
    }
    log_line("MESSAGE from " + from + " (" + notice.id + "): " + notice.text);
  }
  session_->send_control(id, boost::json::object{{"type", "result"}});
  session_->close_channel(id);
  wake_writer();
}

void AgentRunner::refuse_open(std::uint32_t id, const ProtocolError& error) {
  session_->fail_channel(id, error);
  wake_writer();
}

bool AgentRunner::room_to_send() {
  // While the link is down nothing counts as unwritten: the replay buffer alone bounds the outage.
  return session_->can_send() && backlog() < kWriteBacklog;
}

std::uint64_t AgentRunner::backlog() const { return session_->outgoing().size() + session_->unwritten_bytes(); }

void AgentRunner::channel_finished(std::uint32_t channel) {
  channels_.erase(channel);
  stop_when_idle();
  if (!stopping_) release_memory_when_idle();
}

void AgentRunner::release_memory_when_idle() {
  if (!channels_.empty()) return;
  // A moment later: the channel's coroutines still hold their buffers now, and a burst of
  // short commands should not pay for a trim each.
  idle_timer_.expires_after(std::chrono::milliseconds(500));
  idle_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !channels_.empty()) return;
    if (session_) session_->release_memory();
    release_write_buffer_ = true;  // the writer shrinks its buffer before it next waits
    wake_writer();
    release_free_memory();
  });
}

// The master restarted and took up only these channels (docs/protocol.md 7.4): the others
// end here, silently, as the master no longer knows them.
void AgentRunner::keep_only_channels(const std::vector<std::uint32_t>& keep) {
  std::vector<std::uint32_t> ended;
  for (const auto& [id, channel] : channels_) {
    if (std::find(keep.begin(), keep.end(), id) == keep.end()) ended.push_back(id);
  }
  for (std::uint32_t id : ended) {
    auto channel = std::move(channels_[id]);
    channels_.erase(id);
    channel->abandon();
  }
  // Also those whose command ended while the master was away: they only waited for its close,
  // and the id is the master's to use again.
  const std::size_t forgotten = session_->forget_channels_except(keep);
  log_line("the master restarted and re-attached " + std::to_string(channels_.size()) + " channel(s); " +
           std::to_string(ended.size()) + " ended" +
           (forgotten > ended.size() ? " (and " + std::to_string(forgotten - ended.size()) + " that finished meanwhile)" : ""));
  send_ready_.notify();
}

void AgentRunner::abandon_channels() {
  auto channels = std::move(channels_);
  channels_.clear();
  for (auto& [id, channel] : channels) channel->abandon();
  send_ready_.notify();
}

}  // namespace remsh::agent
