// ExecChannel: one `exec` channel (docs/protocol.md 9.5): runs a process and streams it.
//
//   open --> resolve cwd, spawn --> opened (or error + close)
//   stdout/stderr (or the pty) --> DATA, as credit allows ... end-of-stream
//   DATA stream 0 (or 3) --> the child's stdin, credit granted as the child takes it
//   signal / resize --> the process group / the pty
//   exit + every output at end of stream --> result, close
//   master's close (or error) while running --> kill the tree, result "cancelled", close
//   timeout_s / no_output_timeout_s --> kill the tree, result "timeout" / "no-output-timeout"
//
// The coroutines (one pump per output, a stdin writer, an exit waiter, a watchdog) share
// the channel through shared_ptr; every one re-checks the channel's state after each
// suspension, since the channel may have been cancelled, failed or abandoned meanwhile.
// Back-pressure: a pump reads the child's pipe only when the channel has credit and the
// session's replay buffer has room, so a stalled master (or a dropped link) blocks the
// child instead of growing a buffer.
#pragma once

#include "core/agent_channel.hpp"
#include "core/channel_host.hpp"
#include "core/notifier.hpp"
#include "platform/child_process.hpp"
#include "remsh/protocol/messages.hpp"
#include "remsh/protocol/session.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace remsh::agent {

class ExecChannel : public AgentChannel, public std::enable_shared_from_this<ExecChannel> {
 public:
  ExecChannel(ChannelHost& host, std::uint32_t id, std::filesystem::path work_dir);
  ~ExecChannel() override;
  ExecChannel(const ExecChannel&) = delete;
  ExecChannel& operator=(const ExecChannel&) = delete;

  // Handles the channel's open: starts the process and answers opened, or error + close.
  void start(const protocol::ExecRequest& request);
  // signal, resize, close, error from the master.
  void on_message(const protocol::ControlMessage& message) override;
  // Stream bytes from the master (stdin, or the terminal with a pty).
  void on_data(protocol::ChannelData data) override;
  // The session already answered a broken channel rule with error + close.
  void on_failed() override;
  // The session is gone (not resumed, or the agent shuts down): kill the process tree and
  // never touch the session again.
  void abandon() override;

  std::uint32_t id() const { return id_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct InputChunk {
    std::vector<std::uint8_t> bytes;
    bool end = false;
  };

  // True while the channel may still send output (not finished, failed or cancelled).
  bool streaming() const { return !detached_ && !cancelled_; }
  protocol::Session& session() { return host_.session(); }

  void spawn(boost::asio::awaitable<void> body);
  boost::asio::awaitable<void> pump(OutputStream stream);
  boost::asio::awaitable<void> write_stdin();
  boost::asio::awaitable<void> wait_exit();
  boost::asio::awaitable<void> watchdog(std::optional<std::uint64_t> timeout_s,
                                        std::optional<std::uint64_t> no_output_timeout_s);

  void cancel(const char* why);
  void fail(const protocol::ProtocolError& error);
  void maybe_finish();
  void release();
  protocol::ExecResult result() const;

  ChannelHost& host_;
  const std::uint32_t id_;
  const std::filesystem::path work_dir_;

  std::unique_ptr<ChildProcess> child_;
  std::uint8_t input_stream_ = 0;  // 0 (stdin) or 3 (pty)
  bool stdin_wanted_ = false;
  int pumps_running_ = 0;
  std::optional<ProcessExit> exit_;
  std::optional<std::string> reason_;  // timeout, no-output-timeout, cancelled
  Clock::time_point started_at_{};
  Clock::time_point exited_at_{};
  Clock::time_point last_output_{};

  std::deque<InputChunk> input_;
  Notifier input_ready_;
  bool input_done_ = false;  // end of stdin reached, or the child closed it (EPIPE)
  boost::asio::steady_timer watchdog_timer_;

  bool cancelled_ = false;  // the master closed (or failed) the channel while it ran
  bool detached_ = false;   // we sent close, or the session is gone: no more session calls
};

}  // namespace remsh::agent
