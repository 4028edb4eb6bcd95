// AgentLink: the master's side of one agent's session. It outlives connections: when the
// link drops, the session (with its replay buffer and channels) waits for the agent to come
// back and resume, for a grace period; commands keep their state meanwhile.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/notifier.hpp"
#include "storage/storage.hpp"
#include "remsh/protocol/messages.hpp"
#include "remsh/protocol/session.hpp"

namespace remsh::master {

class CommandRun;

// Whoever drives one channel of the session on the master's side (a command, a file
// operation): AgentLink hands it the channel's events.
class ChannelUser {
 public:
  virtual ~ChannelUser() = default;
  virtual void set_channel(std::uint32_t channel) = 0;
  virtual void on_message(const protocol::ControlMessage& message) = 0;
  virtual void on_data(protocol::ChannelData data) = 0;
  virtual void on_failed(const protocol::ProtocolError& error) = 0;
  virtual void on_link_gone(const std::string& why) = 0;  // the session ended for good
  virtual void pump_input() = 0;                          // credit arrived
  // For a user with input from a client (stdin, an upload): called whenever that input may
  // go on, because what waited for credit went out or the channel ended. The client's
  // reader waits for it instead of polling.
  void on_input_room(std::function<void()> fn) { input_room_ = std::move(fn); }
  virtual void flush_log() {}                             // stores what arrived
  // Whether flush_log() should run now rather than with the next batch (see AgentLink).
  virtual bool log_flush_due() const { return true; }
  // What it is, for `remsh agent show` ("command 12"); empty for housekeeping.
  virtual std::string describe() const { return {}; }

 protected:
  void input_room() const {
    if (input_room_) input_room_();
  }

 private:
  std::function<void()> input_room_;
};

class AgentLink : public std::enable_shared_from_this<AgentLink> {
 public:
  // The session's position is stored in `storage` with what it received, so that ACKs
  // never cover a byte a crash could lose (docs/protocol.md 7.4).
  AgentLink(boost::asio::any_io_executor executor, Storage& storage, std::string name,
            std::string session_id, protocol::SessionConfig config);

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  const std::string& session_id() const { return session_id_; }
  protocol::Session& session() { return session_; }

  bool online() const { return connection_ != 0; }
  std::int64_t connected_since_ms() const { return connected_since_ms_; }

  // A connection took over (new or resumed); returns its number. Older serve loops notice
  // they were replaced and stop.
  std::uint64_t attach(std::int64_t now_ms);
  bool is_current(std::uint64_t connection) const { return connection_ == connection; }
  void detach(std::uint64_t connection);
  // Another connection is about to take over: the current one stops touching the session.
  void invalidate() { connection_ = 0; }
  std::chrono::steady_clock::time_point detached_at() const { return detached_at_; }

  // Keepalive (docs/protocol.md 8), driven by the hub for all links once a second: a PING
  // after kDefaultKeepaliveS quiet, ACKs held back sent, and silence beyond
  // kDefaultDeadAfterS marks the connection dead (its writer then ends it).
  void heard_from(std::chrono::steady_clock::time_point t) { last_rx_ = t; }
  std::chrono::steady_clock::time_point last_heard() const { return last_rx_; }
  void sent_to(std::chrono::steady_clock::time_point t) { last_tx_ = t; }
  void keepalive(std::chrono::steady_clock::time_point now);
  bool silent() const { return silent_; }

  // Opens a channel with `open` (an exec or fs open message). Refused when the agent has no
  // free channel (agent-busy), or when the message would not fit in one control frame
  // (limit-exceeded: a huge command or environment; sent, it would end the connection, and
  // every resume would send it again).
  struct ChannelStart {
    std::optional<std::uint32_t> channel;
    std::string tag, message;  // why not
    explicit operator bool() const { return channel.has_value(); }
  };
  ChannelStart start(const boost::json::object& open, std::shared_ptr<ChannelUser> user);
  // A restarted master takes up a channel the agent kept (the session was restored).
  void adopt(std::uint32_t channel, std::shared_ptr<ChannelUser> user) { runs_[channel] = std::move(user); }

  // Dispatches what the session received. Logs are stored in batches: at once for a run
  // that has enough pending (or finished) or when the session's ACK policy wants an ACK
  // (Session::commit_due: 64 frames, or a quarter of the agent's replay buffer up to 1 MiB),
  // otherwise within kLogFlushDelay. So a fast stream costs one SQLite transaction per
  // megabyte and a shell's keystrokes one per half second rather than one per frame (each
  // transaction writes a few 16 KiB pages to the WAL: ~64 KiB for one echoed byte). Each
  // batch stores the session's position with it and only then lets ACKs cover what it
  // holds, so the agent's replay buffer (which stops its output when full) never waits on
  // the timer.
  void handle_events();
  static constexpr std::chrono::milliseconds kLogFlushDelay{500};
  // The session is over for good (grace expired, protocol error, revoked): fail its runs.
  void end(const std::string& why);

  // Wakes the connection's writer: what that means is the serving connection's to say
  // (AgentHub::serve starts a writer, which ends once the output is out).
  void wake() {
    if (waker_) waker_();
  }
  void set_waker(std::uint64_t connection, std::function<void()> waker) {
    waker_connection_ = connection;
    waker_ = std::move(waker);
  }
  void clear_waker(std::uint64_t connection) {
    if (waker_connection_ == connection) waker_ = nullptr;
  }
  // Notified when a connection's writer has ended.
  Notifier& writer_done() { return writer_done_; }

  // Ends the current connection with an error to the agent (revocation): the serve loop
  // sends it and closes.
  void kick(std::string reason) {
    kick_reason_ = std::move(reason);
    wake();
  }
  const std::optional<std::string>& kicked() const { return kick_reason_; }

  // The agent announced a graceful leave (docs/protocol.md 8.1); on_status reports changes.
  bool leaving() const { return leaving_; }
  // The agent's goodbye on this session, with its reason: it closes on purpose and will not
  // resume (docs/protocol.md 12), so its session need not wait out the resume grace.
  const std::optional<std::string>& goodbye() const { return goodbye_; }
  std::function<void(const protocol::Status&)> on_status;

  // What runs on the agent now (ChannelUser::describe of each channel), and how many of
  // those are commands.
  std::vector<std::string> work() const;
  std::size_t commands_running() const;
  // Command `id`'s run while it has a channel here: what it received since the last stored
  // batch is in its memory only.
  std::shared_ptr<CommandRun> command_run(std::int64_t id) const;
  // Notices on their way (ids), so one is not offered twice in a session.
  std::set<std::string>& notices_in_flight() { return notices_in_flight_; }

 private:
  Storage& storage_;
  std::string name_;
  std::string session_id_;
  protocol::Session session_;
  Notifier writer_done_;
  std::function<void()> waker_;
  std::uint64_t waker_connection_ = 0;
  std::uint64_t connection_ = 0;
  std::uint64_t connections_ = 0;
  std::int64_t connected_since_ms_ = 0;
  std::chrono::steady_clock::time_point detached_at_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_rx_{}, last_tx_{};
  std::uint64_t pings_ = 0;
  bool silent_ = false;
  std::map<std::uint32_t, std::shared_ptr<ChannelUser>> runs_;
  std::vector<std::weak_ptr<ChannelUser>> unflushed_;  // runs holding log bytes for the timer
  boost::asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
  std::optional<std::string> kick_reason_;
  bool leaving_ = false;
  std::optional<std::string> goodbye_;
  std::set<std::string> notices_in_flight_;

  void flush_later(const std::shared_ptr<ChannelUser>& run);
  void flush_unflushed();
  // Stores the runs' pending logs and the session's position in one transaction.
  void commit(const std::vector<std::shared_ptr<ChannelUser>>& runs);

  std::uint64_t committed_ = 0;  // the position last stored
};

}  // namespace remsh::master
