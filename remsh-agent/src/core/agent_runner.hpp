// AgentRunner: `remsh-agent run`. Keeps one session with the master alive for as long as
// the agent runs (docs/protocol.md 6-8):
//
//   loop until stop():
//     connect (TLS + fingerprint pin, or plaintext when allowed) and handshake, asking to
//       resume the current session if there is one
//     welcome: resumed -> replay what the master lacks; otherwise a fresh Session, and the
//       old session's processes are killed
//     serve: a reader (bytes -> Session -> channel events), a writer (the session's
//       unwritten frames and outgoing() -> the wire) and a 1 s ticker (ACKs, PINGs, the
//       dead-peer check)
//     the connection ends -> log why, back off (0.5 s doubling to 30 s, ±20 %), go again
//
// Channels and their processes belong to the session, not to a connection: while the link
// is down they keep running and producing into the session as far as credit and the replay
// buffer allow, and the output goes out after the resume.
#pragma once

#include "core/agent_config.hpp"
#include "core/backoff.hpp"
#include "core/channel_host.hpp"
#include "core/notifier.hpp"
#include "core/owner_policy.hpp"
#include "core/work_area.hpp"
#include "remsh/protocol/session.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>

namespace remsh::agent {

class AgentChannel;
class Transport;

struct RunnerOptions {
  AgentConfig config;
  std::filesystem::path config_dir;  // where agent.json is: notices are kept and renames saved there
  OwnerPolicy policy;                // the owner's, enforced on every request
  bool allow_plaintext = false;  // --insecure-plaintext: needed when config.plaintext
  Backoff::Policy backoff;
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds handshake_timeout{30};
};

class AgentRunner final : private ChannelHost {
 public:
  AgentRunner(boost::asio::any_io_executor executor, RunnerOptions options);
  ~AgentRunner() override;
  AgentRunner(const AgentRunner&) = delete;
  AgentRunner& operator=(const AgentRunner&) = delete;

  // Connects, serves and reconnects until stop(); then returns.
  boost::asio::awaitable<void> run();
  // Kills every process tree, says goodbye to the master (best effort) and makes run()
  // return soon.
  void stop();
  // A graceful leave (`remsh-agent stop --graceful`): tells the master, refuses new work
  // (agent-draining), and stops once the last channel has ended.
  void leave();

  // The master refused this agent's credentials (revoked, or unknown to it): run() returned
  // for good and the program should exit with a failure.
  bool refused() const { return refused_; }

  // The current session id ("" before the first welcome), for tests and logs.
  const std::string& session_id() const { return session_id_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection;
  struct Established;

  // ChannelHost
  boost::asio::any_io_executor executor() override { return executor_; }
  protocol::Session& session() override { return *session_; }
  void wake_writer() override { writer_wake_.notify(); }
  bool room_to_send() override;
  // Bytes of the frames waiting for the writer.
  std::uint64_t backlog() const;
  Notifier& send_ready() override { return send_ready_; }
  void channel_finished(std::uint32_t channel) override;

  boost::asio::awaitable<Established> establish();
  boost::asio::awaitable<void> wait_for_stop();
  boost::asio::awaitable<void> serve(Connection& connection, protocol::ByteBuffer leftover);
  boost::asio::awaitable<void> reader(Connection& connection);
  boost::asio::awaitable<void> writer(Connection& connection);
  boost::asio::awaitable<void> ticker(Connection& connection);

  void end_connection(Connection& connection, std::string why, bool flush);
  void receive(Connection& connection, protocol::ByteView bytes);
  void dispatch_events(Connection& connection);
  void open_channel(std::uint32_t id, const protocol::ControlMessage& open);
  void refuse_open(std::uint32_t id, const protocol::ProtocolError& error);
  void take_notice(std::uint32_t id, const protocol::NoticeRequest& notice);
  void send_status();
  boost::json::object hello_facts() const;
  void send_connection_error(const protocol::ProtocolError& error);
  void abandon_channels();
  void keep_only_channels(const std::vector<std::uint32_t>& keep);
  void refused_by_master(const std::string& why);
  void stop_with(const std::string& reason);  // stop(), saying why in the goodbye
  void stop_when_idle();
  void release_memory_when_idle();
  protocol::Capabilities local_capabilities() const;

  boost::asio::any_io_executor executor_;
  RunnerOptions options_;
  std::vector<std::uint8_t> secret_;
  WorkArea work_area_;  // outlives the channels, which refer to it

  std::unique_ptr<protocol::Session> session_;
  std::string session_id_;
  std::uint32_t keepalive_s_ = 15;
  std::uint32_t dead_after_s_ = 45;
  std::map<std::uint32_t, std::shared_ptr<AgentChannel>> channels_;

  Notifier writer_wake_;
  Notifier send_ready_;
  Notifier stop_wake_;
  Connection* connection_ = nullptr;  // while serving
  bool stopping_ = false;
  bool leaving_ = false;
  bool refused_ = false;

  Backoff backoff_;
  boost::asio::steady_timer backoff_timer_;
  boost::asio::steady_timer idle_timer_;  // gives memory back once no channel is left
  bool release_write_buffer_ = false;
  std::mt19937_64 jitter_;
  std::uint64_t ping_token_ = 0;
};

}  // namespace remsh::agent
