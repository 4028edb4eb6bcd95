// AgentHub: the agents' listening socket and every agent's link. It authenticates agents
// (or enrols new ones), resumes their sessions, and runs the read/write/keepalive loops of
// each connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "daemon/agent_link.hpp"
#include "daemon/state_dir.hpp"

namespace remsh::master {

struct AgentHubOptions {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 7443;
  bool plaintext = false;                    // --insecure-plaintext (loopback tests)
  std::chrono::seconds resume_grace{300};
  std::string advertised_address;            // put in enrolment tokens; default: listen address
  std::vector<protocol::Codec> codecs = protocol::default_codecs();  // accepted, by preference
};

class AgentHub {
 public:
  AgentHub(boost::asio::io_context& io, StateDir& state, AgentHubOptions options);

  // Binds the listening socket (throws with a clear message when it cannot).
  void listen();
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> expire_loop();  // ends sessions whose grace ran out
  void stop();

  std::shared_ptr<AgentLink> find(const std::string& name);
  // Administration (agent_admin.cpp). revoke: ends the agent's session at once (its
  // commands are lost) and closes its connection with auth-failed.
  void revoke(const std::string& name);
  // The agent is now called new_name (storage already renamed it): re-keys its link and,
  // if it is connected, tells it (a notice).
  void renamed(const std::string& old_name, const std::string& new_name);
  // Offers the agent its undelivered messages (if it is connected).
  void deliver_notices(const std::string& name);
  const AgentHubOptions& options() const { return options_; }
  std::uint16_t bound_port() const { return bound_port_; }
  std::string token_address() const;

 private:
  bool offer_notice(const std::shared_ptr<AgentLink>& link, const protocol::NoticeRequest& notice,
                    std::function<void()> delivered);
  void send_rename_notice(const std::shared_ptr<AgentLink>& link);
  std::shared_ptr<AgentLink> add_link(const std::string& name, std::string session_id,
                                      protocol::SessionConfig config);
  std::shared_ptr<AgentLink> restore(const std::string& name, const protocol::ResumeRequest& resume,
                                     protocol::SessionConfig config, protocol::Welcome& welcome);
  void close_stored_sessions(const std::optional<std::string>& agent, const std::string& why);  // nullopt: all
  boost::asio::awaitable<void> handle_connection(boost::asio::ip::tcp::socket socket);
  template <typename Stream>
  boost::asio::awaitable<void> run_connection(Stream& stream, std::string peer);
  // An authenticated agent's link, what it sent after the handshake, and whether it
  // presented a name it no longer has; none when the connection ends with the handshake.
  struct Admitted {
    std::shared_ptr<AgentLink> link;
    protocol::ByteBuffer leftover;
    bool presented_old_name = false;
  };
  template <typename Stream>
  boost::asio::awaitable<std::optional<Admitted>> admit(Stream& stream, const std::string& peer);
  template <typename Stream>
  boost::asio::awaitable<void> serve(Stream& stream, std::shared_ptr<AgentLink> link,
                                     std::uint64_t connection, protocol::ByteBuffer leftover);

  boost::asio::io_context& io_;
  StateDir& state_;
  AgentHubOptions options_;
  boost::asio::ssl::context tls_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::uint16_t bound_port_ = 0;
  std::map<std::string, std::shared_ptr<AgentLink>> links_;
  bool stopping_ = false;
};

}  // namespace remsh::master
