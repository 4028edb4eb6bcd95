#include "core/exec_channel.hpp"
#include "core/utf8_path.hpp"

#include "core/log.hpp"
#include "core/work_dir.hpp"
#include "platform/shell.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>

namespace remsh::agent {
namespace asio = boost::asio;
using protocol::ErrorTag;
using protocol::ProtocolError;

namespace {


std::optional<ProcessSignal> signal_from_name(const std::string& name) {
  if (name == "INT") return ProcessSignal::interrupt;
  if (name == "TERM") return ProcessSignal::terminate;
  if (name == "KILL") return ProcessSignal::kill;
  if (name == "HUP") return ProcessSignal::hangup;
  if (name == "QUIT") return ProcessSignal::quit;
  if (name == "USR1") return ProcessSignal::user1;
  if (name == "USR2") return ProcessSignal::user2;
  return std::nullopt;
}

std::uint64_t ms_between(std::chrono::steady_clock::time_point a,
                         std::chrono::steady_clock::time_point b) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count()));
}

}  // namespace

ExecChannel::ExecChannel(ChannelHost& host, std::uint32_t id, std::filesystem::path work_dir)
    : host_(host),
      id_(id),
      work_dir_(std::move(work_dir)),
      input_ready_(host.executor()),
      watchdog_timer_(host.executor()) {}

ExecChannel::~ExecChannel() = default;  // child_ (if still there) kills and reaps the tree

// Runs one of the channel's coroutines. Each holds the channel alive; what they throw once
// the channel is done (reads aborted by the process's destruction) is expected and quiet.
void ExecChannel::spawn(asio::awaitable<void> body) {
  asio::co_spawn(host_.executor(), std::move(body), [self = shared_from_this()](std::exception_ptr e) {
    if (!e || self->detached_) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_line("channel " + std::to_string(self->id_) + ": " + ex.what());
    }
  });
}

// ---- open ----

void ExecChannel::start(const protocol::ExecRequest& request) {
  auto cwd = resolve_cwd(work_dir_, request.cwd);
  if (auto* error = std::get_if<ProtocolError>(&cwd)) {
    fail(*error);
    return;
  }
  ProcessSpec spec;
  spec.argv = request.shell ? shell_argv(*request.shell) : request.argv;
  spec.cwd = utf8_string(std::get<std::filesystem::path>(cwd));
  spec.env = request.env;
  spec.env_clear = request.env_clear;
  spec.stdin_pipe = request.stdin_;
  if (request.pty) {
    spec.pty = ProcessSpec::Pty{static_cast<std::uint16_t>(request.pty->cols),
                                static_cast<std::uint16_t>(request.pty->rows), request.pty->term};
  }

  SpawnError spawn_error;
  child_ = spawn_process(host_.executor(), spec, spawn_error);
  if (!child_) {
    const auto tag = protocol::tag_from_name(spawn_error.tag).value_or(ErrorTag::exec_failed);
    fail({tag, spawn_error.message});
    return;
  }
  started_at_ = last_output_ = Clock::now();
  session().send_control(id_, protocol::Opened{static_cast<std::uint64_t>(child_->pid())}.to_json());
  host_.wake_writer();

  input_stream_ = request.pty ? protocol::stream_id::tty : protocol::stream_id::stdin_;
  stdin_wanted_ = request.stdin_ || request.pty.has_value();
  if (stdin_wanted_) {
    spawn(write_stdin());
  } else {
    input_done_ = true;
  }
  if (request.pty) {
    pumps_running_ = 1;
    spawn(pump(OutputStream::tty));
  } else {
    pumps_running_ = 2;
    spawn(pump(OutputStream::stdout_));
    spawn(pump(OutputStream::stderr_));
  }
  spawn(wait_exit());
  if (request.timeout_s || request.no_output_timeout_s) {
    spawn(watchdog(request.timeout_s, request.no_output_timeout_s));
  }
}

// ---- from the master ----

void ExecChannel::on_message(const protocol::ControlMessage& message) {
  if (detached_) return;
  const std::string& type = message.type;
  if (type == "close") {
    cancel("closed by the master");
  } else if (type == "error") {
    // The master gave up on the channel; its close follows. Stop the work now.
    auto e = protocol::ErrorMessage::parse(message.body);
    if (auto* m = std::get_if<protocol::ErrorMessage>(&e)) {
      log_line("channel " + std::to_string(id_) + ": master reported " + m->tag + ": " + m->message);
    }
    cancel("failed by the master");
  } else if (type == "signal") {
    auto parsed = protocol::Signal::parse(message.body);
    if (auto* s = std::get_if<protocol::Signal>(&parsed)) {
      if (auto sig = signal_from_name(s->signal); sig && child_) child_->signal(*sig, s->group);
    }
  } else if (type == "resize") {
    auto parsed = protocol::Resize::parse(message.body);
    if (auto* r = std::get_if<protocol::Resize>(&parsed); r && child_) {
      child_->resize(static_cast<std::uint16_t>(r->cols), static_cast<std::uint16_t>(r->rows));
    }
  } else {
    // docs/protocol.md 9.4: a message the master may not send ends this channel only.
    fail({ErrorTag::bad_channel, "the master may not send \"" + type + "\" on an exec channel"});
  }
}

void ExecChannel::on_data(protocol::ChannelData data) {
  if (detached_) return;
  if (data.stream != input_stream_) {
    fail({ErrorTag::bad_channel, "DATA on stream " + std::to_string(data.stream) +
                                     ", which this exec channel does not read"});
    return;
  }
  if (!stdin_wanted_ || input_done_ || cancelled_) {
    // Nobody will read it (the open said no stdin, or stdin already ended): drop it, but
    // give the credit back so the master is not stalled.
    session().consumed(id_, data.bytes.size());
    host_.wake_writer();
    return;
  }
  input_.push_back({std::move(data.bytes), data.end_of_stream});
  input_ready_.notify();
}

void ExecChannel::on_failed() {
  if (detached_) return;
  detached_ = true;
  release();
  host_.channel_finished(id_);
}

void ExecChannel::abandon() {
  if (detached_) return;
  detached_ = true;
  release();
}

// ---- coroutines ----

asio::awaitable<void> ExecChannel::pump(OutputStream stream) {
  auto self = shared_from_this();
  const auto stream_id = static_cast<std::uint8_t>(stream);
  // One read, one whole DATA frame (the master accepts 1 MiB): big outputs cost few frames.
  // Left uninitialised, its pages cost memory only once a read reaches them: a quiet stderr
  // costs none.
  const std::size_t buf_size = session().max_data_chunk();
  const auto buf = std::make_unique_for_overwrite<std::uint8_t[]>(buf_size);
  for (;;) {
    // Read only what may be sent: no credit or a full replay buffer leaves the bytes in the
    // pipe, and the child blocks.
    while (streaming() && !host_.may_send_data(id_)) {
      co_await host_.send_ready().wait();
    }
    if (!streaming()) co_return;
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(buf_size, session().credit(id_)));
    std::size_t n = 0;
    try {
      n = co_await child_->read(stream, asio::buffer(buf.get(), want));
    } catch (const std::exception& e) {
      if (!streaming()) co_return;
      log_line("channel " + std::to_string(id_) + ": reading output: " + e.what());
      n = 0;  // treat as end of stream
    }
    if (!streaming()) co_return;
    if (n == 0) break;
    last_output_ = Clock::now();
    std::size_t offset = 0;
    while (offset < n) {
      const std::size_t taken =
          session().send_data(id_, stream_id, protocol::ByteView{buf.get() + offset, n - offset});
      if (taken == 0) {
        co_await host_.send_ready().wait();
        if (!streaming()) co_return;
        continue;
      }
      offset += taken;
      host_.wake_writer();
    }
  }
  // An empty end-of-stream frame needs no credit, only room in the replay buffer.
  while (streaming() && !host_.room_to_send()) co_await host_.send_ready().wait();
  if (!streaming()) co_return;
  session().send_data(id_, stream_id, {}, /*end=*/true);
  host_.wake_writer();
  --pumps_running_;
  maybe_finish();
}

asio::awaitable<void> ExecChannel::write_stdin() {
  auto self = shared_from_this();
  bool broken = false;  // the child closed its stdin: drop the rest, still return credit
  for (;;) {
    while (!detached_ && input_.empty()) co_await input_ready_.wait();
    if (detached_) co_return;
    InputChunk chunk = std::move(input_.front());
    input_.pop_front();
    if (!chunk.bytes.empty()) {
      if (!broken && !cancelled_) {
        try {
          co_await child_->write_input(asio::buffer(chunk.bytes));
        } catch (const std::exception&) {
          broken = true;  // EPIPE and friends: the child does not want more input
        }
        if (detached_) co_return;
      }
      session().consumed(id_, chunk.bytes.size());
      host_.wake_writer();
    }
    if (chunk.end) {
      if (!broken && child_) child_->close_input();
      input_done_ = true;
      // Anything queued behind the end (a misbehaving master) still gets its credit back.
      for (const auto& rest : input_) session().consumed(id_, rest.bytes.size());
      input_.clear();
      host_.wake_writer();
      co_return;
    }
  }
}

asio::awaitable<void> ExecChannel::wait_exit() {
  auto self = shared_from_this();
  ProcessExit exit = co_await child_->wait();
  if (detached_) co_return;
  exit_ = std::move(exit);
  exited_at_ = Clock::now();
  maybe_finish();
}

asio::awaitable<void> ExecChannel::watchdog(std::optional<std::uint64_t> timeout_s,
                                            std::optional<std::uint64_t> no_output_timeout_s) {
  auto self = shared_from_this();
  // Keeps watching after the leader exited: descendants holding the output open are part
  // of the work and are what a time limit is for.
  while (!detached_ && !cancelled_) {
    const auto now = Clock::now();
    auto next = Clock::time_point::max();
    if (timeout_s) {
      const auto deadline = started_at_ + std::chrono::seconds(*timeout_s);
      if (now >= deadline) {
        reason_ = "timeout";
        break;
      }
      next = std::min(next, deadline);
    }
    if (no_output_timeout_s) {
      const auto deadline = last_output_ + std::chrono::seconds(*no_output_timeout_s);
      if (now >= deadline) {
        reason_ = "no-output-timeout";
        break;
      }
      next = std::min(next, deadline);
    }
    watchdog_timer_.expires_at(next);
    boost::system::error_code ignored;
    co_await watchdog_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  if (detached_ || cancelled_ || !reason_) co_return;
  log_line("channel " + std::to_string(id_) + ": " + *reason_ + ", killing the process tree");
  if (child_) child_->kill_tree();
}

// ---- ending ----

void ExecChannel::cancel(const char* why) {
  if (cancelled_ || detached_) return;
  cancelled_ = true;
  if (!exit_) reason_ = "cancelled";
  if (!exit_) log_line("channel " + std::to_string(id_) + ": " + why + ", killing the process tree");
  if (child_) child_->kill_tree();
  // Pumps waiting for credit stop (the master wants no more output); the exit waiter
  // then sends the result.
  host_.send_ready().notify();
  input_ready_.notify();
  watchdog_timer_.cancel();
  maybe_finish();
}

void ExecChannel::fail(const ProtocolError& error) {
  if (detached_) return;
  session().fail_channel(id_, error);  // error + close
  host_.wake_writer();
  detached_ = true;
  release();
  host_.channel_finished(id_);
}

void ExecChannel::maybe_finish() {
  if (detached_ || !exit_) return;
  if (!cancelled_ && pumps_running_ > 0) return;  // output still to deliver
  detached_ = true;
  if (session().channel_open(id_)) {
    session().send_control(id_, result().to_json());
    session().close_channel(id_);
    host_.wake_writer();
  }
  release();
  host_.channel_finished(id_);
}

// Kills what may still run and destroys the process (reaping it), so nothing of the channel
// outlives it. Pending reads, writes and waits on the process complete with an error.
void ExecChannel::release() {
  if (child_) {
    child_->kill_tree();
    child_.reset();
  }
  input_.clear();
  input_ready_.notify();
  watchdog_timer_.cancel();
  host_.send_ready().notify();
}

protocol::ExecResult ExecChannel::result() const {
  protocol::ExecResult r;
  const ProcessExit& e = *exit_;
  if (e.signaled) {
    r.reason = "signaled";
    r.signal = e.signal_name;
  } else {
    r.reason = "exited";
    r.exit_code = e.exit_code;
  }
  if (reason_) r.reason = *reason_;  // timeout, no-output-timeout, cancelled: how it ended
  r.elapsed_ms = ms_between(started_at_, exited_at_);
  r.cpu_user_ms = e.cpu_user_ms;
  r.cpu_system_ms = e.cpu_system_ms;
  r.max_rss_kb = e.max_rss_kb;
  return r;
}

}  // namespace remsh::agent
