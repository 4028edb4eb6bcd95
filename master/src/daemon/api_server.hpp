// ApiServer: the master's HTTP/JSON + WebSocket API (docs/api.md). Loopback by default;
// bound elsewhere it speaks HTTPS with the master's certificate. Every request needs a
// bearer token whose hash is in the database.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "daemon/agent_hub.hpp"
#include "daemon/command_run.hpp"
#include "daemon/job_scheduler.hpp"
#include "daemon/state_dir.hpp"
#include "daemon/token_streams.hpp"

namespace remsh::master {

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, StateDir& state, AgentHub& hub, std::string host,
            std::uint16_t port);

  void listen();
  // Jobs are served once a scheduler is attached (remsh-master attaches one).
  void attach_jobs(JobScheduler& jobs) { jobs_ = &jobs; }
  // How the API stops the master (POST /api/v1/master/shutdown).
  void on_shutdown(std::function<void()> stop) { shutdown_ = std::move(stop); }
  boost::asio::awaitable<void> accept_loop();
  void stop();
  std::uint16_t bound_port() const { return bound_port_; }
  bool tls() const { return tls_enabled_; }

  // Used by the request handlers (api_routes.cpp).
  StateDir& state() { return state_; }
  AgentHub& hub() { return hub_; }
  boost::asio::io_context& io() { return io_; }
  void remember(std::shared_ptr<CommandRun> run) { runs_[run->id()] = run; }

 private:
  template <typename Stream>
  boost::asio::awaitable<void> session(Stream stream);
  template <typename Ws>
  boost::asio::awaitable<void> run_ws(Ws& ws, std::string caller);
  template <typename Ws>
  boost::asio::awaitable<void> fs_ws(Ws& ws);
  // The online link of agent `name`, or the error tag and message to refuse with.
  // The file of GET /api/v1/jobs/ID/artifacts/NAME; nullopt for other paths. Throws ApiError.
  std::optional<std::filesystem::path> artifact_file(const std::string& path);
  std::variant<std::shared_ptr<AgentLink>, std::pair<std::string, std::string>> online_agent(
      const std::string& name);
  template <typename Ws>
  boost::asio::awaitable<void> log_ws(Ws& ws, std::int64_t id, bool follow);

  boost::asio::io_context& io_;
  StateDir& state_;
  AgentHub& hub_;
  std::string host_;
  std::uint16_t port_;
  std::uint16_t bound_port_ = 0;
  bool tls_enabled_ = false;
  boost::asio::ssl::context tls_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::map<std::int64_t, std::weak_ptr<CommandRun>> runs_;
  TokenStreams token_streams_;  // deleting a token ends them
  bool stopping_ = false;
  JobScheduler* jobs_ = nullptr;
  std::function<void()> shutdown_;
};

}  // namespace remsh::master
