#include "core/enroll.hpp"

#include "core/agent_config.hpp"
#include "core/handshake_driver.hpp"
#include "core/utf8_path.hpp"
#include "platform/random.hpp"
#include "platform/transport.hpp"
#include "remsh/protocol/auth.hpp"
#include "remsh/protocol/enrollment_token.hpp"
#include "remsh/protocol/handshake.hpp"
#include "remsh/protocol/utf8.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/host_name.hpp>

#include <cstdio>
#include <iostream>
#include <utility>
#include <vector>

#ifndef REMSH_VERSION
#define REMSH_VERSION "0"
#endif

namespace remsh::agent {
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

int complain(const std::string& message, int code) {
  std::cerr << "remsh-agent: " << message << "\n";
  return code;
}

// Connects, handshakes with the enrolment request and returns what the master granted.
asio::awaitable<protocol::Enrolled> trade(const protocol::EnrollmentToken& token, std::string name) {
  auto executor = co_await asio::this_coro::executor;
  const TransportOptions options{token.master, token.plaintext, token.fingerprint, kTimeout};
  auto transport = co_await connect_transport(executor, options);
  protocol::Hello hello;
  hello.software = "remsh-agent/" REMSH_VERSION;
  hello.capabilities.pty = true;
  protocol::AgentHandshake handshake(hello, std::nullopt, protocol::Enroll{token.secret, std::move(name)});
  co_await drive_handshake(*transport, handshake, kTimeout);
  transport->close();
  co_return handshake.enrolled();
}

}  // namespace

int enroll(const EnrollOptions& options) {
  auto decoded = protocol::EnrollmentToken::decode(options.token);
  if (auto* error = std::get_if<protocol::ProtocolError>(&decoded)) return complain(error->message, 2);
  const auto& token = std::get<protocol::EnrollmentToken>(decoded);
  if (token.plaintext && !options.allow_plaintext) {
    return complain("this token is for a master without TLS; pass --insecure-plaintext to accept an "
                    "unencrypted connection (meant for loopback tests only)",
                    2);
  }
  // The configuration is JSON text (docs/protocol.md 5): text that is not UTF-8 could be
  // saved but not read back, after the token was spent. Refuse it before that.
  try {
    const fs::path config_dir = fs::absolute(options.config_dir);
    std::vector<std::pair<std::string, std::string>> texts{
        {"--work-dir", utf8_string(fs::absolute(options.work_dir.value_or(config_dir / "work")))},
        {"--name", options.name.value_or("")},
        {"--admin", options.admin},
        {"--description", options.description}};
    for (const auto& p : options.allowed_paths) texts.emplace_back("--allow-path", utf8_string(fs::absolute(p)));
    for (const auto& l : options.labels) texts.emplace_back("--label", l);
    for (const auto& [option, text] : texts) {
      if (!protocol::is_utf8(text)) {
        return complain(option + " " + protocol::to_utf8_lossy(text) +
                            ": not UTF-8 text, which the agent's configuration (JSON) cannot hold",
                        2);
      }
    }
  } catch (const std::exception& e) {
    return complain(e.what(), 2);
  }
  std::string name = options.name.value_or("");
  if (name.empty()) {
    boost::system::error_code ec;
    std::string host = asio::ip::host_name(ec);
    host = host.substr(0, host.find('.'));  // the short name
    if (ec || host.empty()) return complain("cannot determine the host name; pass --name", 2);
    // Volunteers' machines are often all called "localhost" or "ubuntu": a suffix keeps them
    // apart without anyone naming them on the master.
    name = host + "-" + random_hex(2);
  }

  asio::io_context io;
  std::optional<protocol::Enrolled> granted;
  std::exception_ptr failure;
  asio::co_spawn(io, trade(token, name), [&](std::exception_ptr e, protocol::Enrolled enrolled) {
    failure = e;
    if (!e) granted = std::move(enrolled);
  });
  io.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const FingerprintMismatch& e) {
      return complain(e.what(), 1);
    } catch (const HandshakeError& e) {
      return complain(std::string(protocol::tag_name(e.error().tag)) + ": " + e.error().message, 1);
    } catch (const std::exception& e) {
      return complain(e.what(), 1);
    }
  }
  if (!granted || granted->agent.empty() || !protocol::from_hex(granted->secret) || granted->secret.size() != 64) {
    return complain("the master's answer carries no usable credentials", 1);
  }

  try {
    const fs::path config_dir = fs::absolute(options.config_dir);
    const fs::path work_dir = fs::absolute(options.work_dir.value_or(config_dir / "work")).lexically_normal();
    AgentConfig config;
    config.master = token.master;
    config.fingerprint = token.plaintext ? std::string() : token.fingerprint;
    config.plaintext = token.plaintext;
    config.name = granted->agent;
    config.secret = protocol::to_hex(*protocol::from_hex(granted->secret));  // lowercase
    config.work_dir = work_dir;
    for (const auto& p : options.allowed_paths) config.allowed_paths.push_back(fs::absolute(p).lexically_normal());
    config.admin = options.admin;
    config.description = options.description;
    config.labels = options.labels;
    save_config(config_dir, config);
    fs::create_directories(work_dir);
  } catch (const std::exception& e) {
    return complain(e.what(), 1);
  }
  std::cout << "enrolled as " << granted->agent << " with " << token.master << "\n";
  if (options.name && !options.name->empty() && granted->agent != *options.name) {
    // The master keeps names unique: it added a suffix. Said, not buried in the line above.
    std::cerr << "remsh-agent: note: the name " << *options.name << " is taken on this master; this agent is "
              << granted->agent << " (an admin may rename it: remsh agent rename " << granted->agent << " NEW)\n";
  }
  return 0;
}

}  // namespace remsh::agent
