// remsh-master: the daemon. Accepts agent connections (TLS), keeps state in SQLite, runs
// commands on agents and serves the HTTP/JSON + WebSocket API (docs/api.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <utility>
#include <iostream>

#include "remsh/protocol/stream_codec.hpp"

#include "daemon/agent_hub.hpp"
#include "daemon/api_server.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/state_dir.hpp"

namespace {

// "HOST:PORT" or "[v6]:PORT" or ":PORT".
bool split_host_port(const std::string& text, std::string& host, std::uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  try {
    unsigned long p = std::stoul(text.substr(colon + 1));
    if (p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace remsh::master;
  HeapTrim::keep_working_memory();
  CLI::App app{"remsh-master: drives remsh agents; state in STATE_DIR (SQLite, TLS key, admin token)"};
  // Usage errors in the form of every other error ("remsh-master: <tag>: <message>"), exit 2.
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    return std::string("remsh-master: usage: ") + CLI::FailureMessage::simple(a, e);
  });
  app.set_version_flag("--version", "remsh-master " REMSH_VERSION);
  std::string state_dir, agents_listen = "0.0.0.0:7443", api_listen = "127.0.0.1:7080", advertise;
  bool plaintext = false;
  int grace_s = 300;
  app.add_option("--state-dir", state_dir, "state directory, created on first start")->required();
  app.add_option("--agents-listen", agents_listen, "where agents connect (TLS)")->capture_default_str();
  app.add_option("--api-listen", api_listen,
                 "the API (HTTP on loopback; HTTPS with the master's certificate elsewhere)")->capture_default_str();
  app.add_option("--advertise", advertise,
                 "HOST:PORT agents should connect to, written into enrollment tokens "
                 "(default: the agents-listen address, or this host's name when it is 0.0.0.0)");
  app.add_option("--resume-grace", grace_s, "seconds a disconnected agent's session is kept for it to resume")->capture_default_str()
      ->check(CLI::Range(1, 86400));
  std::string codecs = "zstd,deflate";
  app.add_option("--codecs", codecs,
                 "stream codecs to accept from agents, by preference (deflate is always "
                 "included: every agent has it)")
      ->capture_default_str();
  app.add_flag("--insecure-plaintext", plaintext,
               "agents connect without TLS (loopback tests only; agents need the same flag)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  AgentHubOptions hub_options;
  std::string api_host;
  std::uint16_t api_port = 0;
  if (!split_host_port(agents_listen, hub_options.listen_host, hub_options.listen_port)) {
    std::cerr << "remsh-master: bad --agents-listen " << agents_listen << " (want HOST:PORT)\n";
    return 2;
  }
  if (!split_host_port(api_listen, api_host, api_port)) {
    std::cerr << "remsh-master: bad --api-listen " << api_listen << " (want HOST:PORT)\n";
    return 2;
  }
  hub_options.plaintext = plaintext;
  hub_options.codecs.clear();
  for (std::size_t pos = 0; pos <= codecs.size();) {
    std::size_t comma = codecs.find(',', pos);
    if (comma == std::string::npos) comma = codecs.size();
    auto codec = remsh::protocol::codec_from_name(codecs.substr(pos, comma - pos));
    if (!codec || *codec == remsh::protocol::Codec::none) {
      std::cerr << "remsh-master: unknown codec in --codecs " << codecs << " (zstd, deflate)\n";
      return 2;
    }
    hub_options.codecs.push_back(*codec);
    pos = comma + 1;
  }
  if (std::find(hub_options.codecs.begin(), hub_options.codecs.end(),
                remsh::protocol::Codec::deflate) == hub_options.codecs.end()) {
    hub_options.codecs.push_back(remsh::protocol::Codec::deflate);
  }
  hub_options.resume_grace = std::chrono::seconds(grace_s);
  hub_options.advertised_address = advertise;
  if (advertise.empty() && (hub_options.listen_host == "0.0.0.0" || hub_options.listen_host == "::")) {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) == 0) {
      hub_options.advertised_address = std::string(name) + ":" + std::to_string(hub_options.listen_port);
    }
  }

  // OpenSSL writes the agents' TLS sockets itself (daemon/tls_connection.hpp): a peer gone
  // mid-write must be an error on that connection, not a SIGPIPE that ends the master.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    boost::asio::io_context io;
    StateDir state(state_dir);
    // Plain commands of agents that may come back and re-attach are spared until the
    // resume grace runs out (docs/protocol.md 7.4); shells and job steps are lost.
    if (auto lost = state.storage().mark_running_commands_lost(now_ms(), /*spare_reattachable=*/true)) {
      std::cerr << "remsh-master: " << lost << " command(s) were running when the master stopped; marked lost\n";
    }
    AgentHub hub(io, state, hub_options);
    hub.listen();
    if (auto lost = state.storage().mark_running_jobs_lost(now_ms())) {
      std::cerr << "remsh-master: " << lost << " job(s) were running when the master stopped; marked lost\n";
    }
    ApiServer api(io, state, hub, api_host, api_port);
    JobScheduler jobs(io, state, hub);
    api.attach_jobs(jobs);
    api.listen();
    std::cerr << "remsh-master: agents on " << hub_options.listen_host << ":" << hub.bound_port()
              << (plaintext ? " (PLAINTEXT)" : " (TLS, certificate sha256 " + state.fingerprint() + ")")
              << "; API on " << (api.tls() ? "https://" : "http://") << api_host << ":"
              << api.bound_port() << "; state in " << state.path().string() << std::endl;

    boost::asio::co_spawn(io, hub.accept_loop(), boost::asio::detached);
    boost::asio::co_spawn(io, hub.expire_loop(), boost::asio::detached);
    boost::asio::co_spawn(io, api.accept_loop(), boost::asio::detached);
    boost::asio::co_spawn(io, jobs.run(), boost::asio::detached);

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    boost::asio::steady_timer shutdown_timer(io);
    bool stopping = false;
    auto stop = [&] {
      if (std::exchange(stopping, true)) return;
      std::cerr << "remsh-master: stopping" << std::endl;
      signals.cancel();
      jobs.stop();
      hub.stop();
      api.stop();
      // A moment for the goodbyes (and the API's answer) to go out, then stop.
      shutdown_timer.expires_after(std::chrono::milliseconds(200));
      shutdown_timer.async_wait([&](boost::system::error_code) { io.stop(); });
    };
    api.on_shutdown([&] { boost::asio::post(io, stop); });
    signals.async_wait([&](boost::system::error_code ec, int) {
      if (!ec) stop();
    });
    io.run();
    state.storage().close();
    std::cerr << "remsh-master: stopped" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "remsh-master: " << e.what() << std::endl;
    return 1;
  }
}
