#include "daemon/agent_hub.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>

#include <exception>
#include <iostream>

#include "daemon/command_run.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/notice_delivery.hpp"
#include "daemon/tls_connection.hpp"
#include "remsh/protocol/auth.hpp"
#include "remsh/protocol/handshake.hpp"

namespace remsh::master {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using protocol::ByteBuffer;
using protocol::ByteView;
using protocol::ErrorTag;
using protocol::ProtocolError;
using Clock = std::chrono::steady_clock;

namespace {

void log_line(const std::string& text) { std::cerr << "remsh-master: " << text << std::endl; }

protocol::Capabilities master_capabilities() {
  protocol::Capabilities caps;
  caps.pty = true;
  // Credit comes back only after the bytes are stored and handed to the client's socket: at
  // a few hundred MB/s the protocol's default 4 MiB is ~20 ms of output, less than that round
  // trip on a busy machine, and the agent would sit idle. What the master holds per channel
  // meanwhile is at most this window (compressed, for clients that decode themselves).
  caps.window = 16u << 20;
  // Frames as large as the protocol allows: each costs a decode, a relay message and a log
  // row, so 1 MiB frames make a fast stream ~15 % cheaper than 256 KiB ones (1 GiB of zeros:
  // 0.87-0.91 s instead of 0.99-1.10 s here).
  caps.max_frame = protocol::kMaxFramePayload;
  caps.status = true;  // agents may announce a graceful leave
  return caps;
}

std::vector<protocol::Codec> agree_codecs(const std::vector<protocol::Codec>& ours,
                                          const std::vector<protocol::Codec>& theirs) {
  std::vector<protocol::Codec> out;
  for (protocol::Codec c : ours) {
    if (std::find(theirs.begin(), theirs.end(), c) != theirs.end()) out.push_back(c);
  }
  return out;
}

// The two kinds of agent connection: plain TCP (--insecure-plaintext) and TLS. These hand
// over the awaitable rather than awaiting it in a coroutine of their own: an idle agent
// waits in wait_readable, and every frame on that path is held once per idle agent.
asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(tcp::socket& s, asio::mutable_buffer b) {
  return s.async_read_some(b, asio::as_tuple(asio::use_awaitable));
}
asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(TlsConnection& s, asio::mutable_buffer b) {
  return s.read_some(b);
}
asio::awaitable<std::tuple<boost::system::error_code>> wait_readable(tcp::socket& s) {
  return s.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
}
asio::awaitable<std::tuple<boost::system::error_code>> wait_readable(TlsConnection& s) { return s.wait_readable(); }
asio::awaitable<boost::system::error_code> write_bytes(tcp::socket& s, asio::const_buffer b) {
  auto [ec, n] = co_await asio::async_write(s, b, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}
asio::awaitable<boost::system::error_code> write_bytes(TlsConnection& s, asio::const_buffer b) {
  co_return co_await s.write(b);
}
tcp::socket& lowest(tcp::socket& s) { return s; }
tcp::socket& lowest(TlsConnection& s) { return s.socket(); }
void cancel_read(tcp::socket& s) {
  boost::system::error_code ignored;
  s.cancel(ignored);
}
void cancel_read(TlsConnection& s) { s.cancel_read(); }

template <typename Stream>
asio::awaitable<void> write_all(Stream& stream, ByteBuffer& out) {
  if (out.empty()) co_return;
  if (auto ec = co_await write_bytes(stream, asio::buffer(out.data(), out.size()))) {
    throw boost::system::system_error(ec);
  }
  out.clear();
}

}  // namespace

AgentHub::AgentHub(asio::io_context& io, StateDir& state, AgentHubOptions options)
    : io_(io), state_(state), options_(std::move(options)), tls_(ssl::context::tls_server) {
  tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  // TLS 1.2 only with ECDHE + AEAD (Wine's SChannel offers 1.2); 1.3 suites are all AEAD.
  SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(tls_.native_handle(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305");
  // TLS 1.3: AES-128-GCM first, and the master's order decides. Every byte of every stream
  // is sealed by one side and opened by the other; AES-128-GCM does that at 4.2 GB/s here,
  // AES-256-GCM (OpenSSL's first choice) at 2.9 GB/s.
  SSL_CTX_set_ciphersuites(tls_.native_handle(),
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_options(tls_.native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection gives its record buffers back (~34 KiB each): thousands of agents.
  SSL_CTX_set_mode(tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // Without read-ahead OpenSSL reads each record in two system calls, its 5-byte header and
  // then its body. With it, one read takes whatever has arrived, several records at once;
  // TlsConnection::wait_readable asks SSL_has_pending before waiting on the socket.
  SSL_CTX_set_read_ahead(tls_.native_handle(), 1);
  SSL_CTX_set_default_read_buffer_len(tls_.native_handle(), 64 * 1024);
  // Agents do not resume TLS sessions (the remsh session resumes above TLS): no server-side
  // cache of every connection's TLS session, no TLS 1.3 tickets.
  SSL_CTX_set_session_cache_mode(tls_.native_handle(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(tls_.native_handle(), 0);
  tls_.use_certificate_chain_file(state_.cert_file().string());
  tls_.use_private_key_file(state_.key_file().string(), ssl::context::pem);
}

void AgentHub::listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.listen_host, ec);
  if (ec) throw std::runtime_error("bad --agents-listen address " + options_.listen_host);
  tcp::endpoint endpoint(address, options_.listen_port);
  acceptor_.emplace(io_);
  acceptor_->open(endpoint.protocol());
  acceptor_->set_option(tcp::acceptor::reuse_address(true));
  acceptor_->bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen for agents on " + options_.listen_host + ":" +
                             std::to_string(options_.listen_port) + ": " + ec.message());
  }
  acceptor_->listen();
  bound_port_ = acceptor_->local_endpoint().port();
}

std::string AgentHub::token_address() const {
  if (!options_.advertised_address.empty()) return options_.advertised_address;
  std::string host = options_.listen_host;
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(bound_port_);
}

void AgentHub::stop() {
  stopping_ = true;
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  for (auto& [name, link] : links_) {
    link->session().send_control(0, protocol::Goodbye{"master shutting down"}.to_json());
    link->wake();
  }
}

std::shared_ptr<AgentLink> AgentHub::find(const std::string& name) {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : it->second;
}

void AgentHub::revoke(const std::string& name) {
  auto link = find(name);
  if (!link) return;
  log_line("agent " + name + " revoked: ending its session");
  link->kick("this agent's credentials were revoked by the master's admin");
  link->end("the agent was revoked");
  links_.erase(name);
}

void AgentHub::renamed(const std::string& old_name, const std::string& new_name) {
  auto it = links_.find(old_name);
  if (it == links_.end()) return;
  auto link = it->second;
  links_.erase(it);
  link->set_name(new_name);
  links_[new_name] = link;
  if (link->online()) send_rename_notice(link);
}

// Opens a notice channel unless that notice is already on its way; false when the agent has
// no free channel (the notice waits for the next connect).
bool AgentHub::offer_notice(const std::shared_ptr<AgentLink>& link, const protocol::NoticeRequest& notice,
                            std::function<void()> delivered) {
  if (link->notices_in_flight().count(notice.id)) return true;
  auto user = std::make_shared<NoticeDelivery>(link, notice.id, std::move(delivered));
  if (!link->start(notice.to_json(), user)) return false;
  link->notices_in_flight().insert(notice.id);
  return true;
}

void AgentHub::send_rename_notice(const std::shared_ptr<AgentLink>& link) {
  offer_notice(link, {"rename-" + link->name(), "", std::string("the master"), link->name()}, nullptr);
}

void AgentHub::deliver_notices(const std::string& name) {
  auto link = find(name);
  if (!link || !link->online()) return;
  for (const auto& m : state_.storage().list_agent_messages(name, /*undelivered_only=*/true)) {
    const std::int64_t message_id = m.id;
    StateDir& state = state_;
    const bool offered = offer_notice(link, {"m-" + std::to_string(m.id), m.text, m.sender, std::nullopt},
                                      [&state, message_id] {
                                        try {
                                          state.storage().mark_agent_message_delivered(message_id, now_ms());
                                        } catch (const StorageError& e) {
                                          log_line("cannot record the delivery of message " +
                                                   std::to_string(message_id) + ": " + e.what());
                                        }
                                      });
    if (!offered) break;
  }
}

std::shared_ptr<AgentLink> AgentHub::add_link(const std::string& name, std::string session_id,
                                              protocol::SessionConfig config) {
  auto link = std::make_shared<AgentLink>(io_.get_executor(), state_.storage(), name, std::move(session_id),
                                          std::move(config));
  links_[name] = link;
  std::weak_ptr<AgentLink> weak = link;
  link->on_status = [this, weak](const protocol::Status& status) {
    auto l = weak.lock();
    if (!l) return;
    log_line("agent " + l->name() + (status.draining ? " is leaving: " + status.reason : " takes work again"));
    try {
      state_.storage().set_agent_leaving(l->name(), status.draining);
    } catch (const StorageError& e) {
      log_line("cannot record the agent's status: " + std::string(e.what()));
    }
  };
  return link;
}

// The agent asks to resume a session this process never had: the master restarted. If the
// session is stored, its running commands are taken up again from what was stored
// (docs/protocol.md 7.4); the welcome lists their channels.
std::shared_ptr<AgentLink> AgentHub::restore(const std::string& name, const protocol::ResumeRequest& resume,
                                             protocol::SessionConfig config, protocol::Welcome& welcome) {
  Storage& storage = state_.storage();
  auto stored = storage.find_agent_session(resume.session);
  if (!stored || stored->agent != name) return nullptr;
  // The session keeps the compression it had, which this process may no longer offer
  // (--codecs changed across the restart) and which was not stored: it accepts every codec
  // it can decode that the agent declared, a superset of the first agreement, and sends
  // deflate, which every agreement holds (docs/protocol.md 7.4).
  std::vector<protocol::Codec> codecs{protocol::Codec::deflate};
  for (protocol::Codec c : agree_codecs(protocol::default_codecs(), config.remote.codecs)) {
    if (c != protocol::Codec::deflate) codecs.push_back(c);
  }
  config.codecs = codecs;
  welcome.codecs = std::move(codecs);
  auto link = add_link(name, stored->session, std::move(config));
  link->session().restore({stored->received, resume.received, resume.sent});
  for (const ReattachableCommand& command : storage.reattachable_commands(stored->session)) {
    link->session().restore_channel(command.channel);
    // The agent's compressors go on where they were: replay the stored frames through
    // fresh decoders to reach the same state.
    std::optional<protocol::ProtocolError> broken;
    for (std::int64_t after = -1; !broken;) {
      auto chunks = storage.read_log_chunks(command.id, after, 256);
      if (chunks.empty()) break;
      for (const LogChunk& chunk : chunks) {
        after = chunk.index;
        if (chunk.codec == kLogCodecNone || broken) continue;
        broken = link->session().restore_stream(command.channel, chunk.stream, chunk.codec,
                                                protocol::ByteView{chunk.data.data(), chunk.data.size()});
      }
    }
    if (broken) {
      log_line("agent " + name + ": command " + std::to_string(command.id) +
               " cannot be taken up (its stored log does not decode: " + broken->describe() + ")");
      link->session().forget_channel(command.channel);
      continue;
    }
    auto run = std::make_shared<CommandRun>(command.id, storage, link);
    run->reattached(command.channel, command.next_chunk);
    link->adopt(command.channel, run);
    welcome.channels.push_back(command.channel);
  }
  welcome.resumed = true;
  welcome.restarted = true;
  welcome.received = stored->received;
  return link;
}

// Sessions stored for an agent that will not resume them: their commands are lost.
void AgentHub::close_stored_sessions(const std::optional<std::string>& agent, const std::string& why) {
  for (const AgentSessionRecord& s : state_.storage().list_agent_sessions(agent)) {
    auto live = find(s.agent);
    if (live && live->session_id() == s.session) continue;
    if (auto lost = state_.storage().close_agent_session(s.session, now_ms(), why)) {
      log_line("agent " + s.agent + ": " + std::to_string(lost) + " command(s) of session " + s.session +
               " lost: " + why);
    }
  }
}

asio::awaitable<void> AgentHub::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      log_line("accept failed: " + ec.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(io_, handle_connection(std::move(socket)), asio::detached);
  }
}

// Once a second: keepalive of every connected link, sessions whose grace ran out, and the
// heap trimmed after a burst of handshakes or API requests.
asio::awaitable<void> AgentHub::expire_loop() {
  asio::steady_timer timer(io_);
  const auto started = Clock::now();
  bool stored_expired = false;
  while (!stopping_) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    HeapTrim::process().tick();
    if (!stored_expired && Clock::now() - started > options_.resume_grace) {
      // Sessions from before a restart whose agents did not come back within the grace.
      stored_expired = true;
      close_stored_sessions(std::nullopt, "the agent did not come back within the resume grace period after the master restarted");
    }
    // Keepalive for every link in the same pass that ends expired ones: thousands of idle
    // agents wake the master once a second, not each on its own timer.
    const auto now = Clock::now();
    for (auto it = links_.begin(); it != links_.end();) {
      auto& link = it->second;
      link->keepalive(now);
      if (!link->online() && now - link->detached_at() > options_.resume_grace) {
        log_line("agent " + link->name() + ": session " + link->session_id() +
                 " expired without a resume");
        link->end("the agent did not come back within the resume grace period");
        it = links_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

asio::awaitable<void> AgentHub::handle_connection(tcp::socket socket) {
  std::string peer;
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  peer = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
  try {
    if (options_.plaintext) {
      co_await run_connection(socket, peer);
    } else {
      TlsConnection stream(std::move(socket), tls_.native_handle());
      asio::steady_timer deadline(io_, std::chrono::seconds(protocol::kHandshakeTimeoutS));
      deadline.async_wait([&stream](boost::system::error_code e) {
        if (!e) stream.socket().close();
      });
      if (auto failed = co_await stream.accept()) {
        HeapTrim::process().note_transient_work();
        throw boost::system::system_error(failed, "TLS handshake");
      }
      deadline.cancel();
      co_await run_connection(stream, peer);
    }
  } catch (const std::exception& e) {
    log_line("agent connection " + peer + " ended: " + e.what());
  }
}

template <typename Stream>
asio::awaitable<void> AgentHub::run_connection(Stream& stream, std::string peer) {
  // The handshake's state (both hellos, the agent's facts, its buffers) lives in admit()'s
  // frame and is gone before the session is served: an idle agent keeps only what serving
  // it needs, and there may be thousands of them.
  std::optional<Admitted> admitted = co_await admit(stream, peer);
  HeapTrim::process().note_transient_work();
  if (!admitted) co_return;  // enrolment done or refused: the connection ends here
  std::shared_ptr<AgentLink> link = std::move(admitted->link);
  const std::uint64_t connection = link->attach(now_ms());
  if (admitted->presented_old_name) send_rename_notice(link);
  deliver_notices(link->name());
  co_await serve(stream, link, connection, std::move(admitted->leftover));
  link->detach(connection);
  if (!link->online()) {
    log_line("agent " + link->name() + " disconnected");
    // LAST-SEEN: when it was last heard from (a silent link is noticed only later).
    const auto heard = link->last_heard();
    const auto silent_for = heard == std::chrono::steady_clock::time_point{}
                                ? std::chrono::steady_clock::duration::zero()
                                : std::chrono::steady_clock::now() - heard;
    const auto ms = now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(silent_for).count();
    try {
      state_.storage().set_agent_last_seen(link->name(), ms);
    } catch (const StorageError& e) {
      log_line("agent " + link->name() + ": cannot store when it was last seen: " + e.what());
    }
  }
  if (!link->online() && link->goodbye() && find(link->name()) == link) {
    // It said goodbye: no resume will come (its processes are gone), so its commands end now
    // rather than after the resume grace, and their clients learn it at once.
    link->end("the agent left (" + *link->goodbye() + ")");
    links_.erase(link->name());
  }
}

template <typename Stream>
asio::awaitable<std::optional<AgentHub::Admitted>> AgentHub::admit(Stream& stream, const std::string& peer) {
  protocol::Hello hello;
  hello.software = "remsh-master/0.1.0";
  hello.capabilities = master_capabilities();
  hello.capabilities.codecs = options_.codecs;
  protocol::MasterHandshake hs(hello);
  hs.start();

  // The whole handshake must finish within 10 s, however slowly the peer trickles bytes.
  asio::steady_timer deadline(io_, std::chrono::seconds(protocol::kHandshakeTimeoutS));
  bool timed_out = false;
  deadline.async_wait([&](boost::system::error_code e) {
    if (!e) {
      timed_out = true;
      boost::system::error_code ignored;
      lowest(stream).close(ignored);
    }
  });

  std::vector<std::uint8_t> buf(16 * 1024);
  std::shared_ptr<AgentLink> link;
  for (;;) {
    co_await write_all(stream, hs.outgoing());
    using S = protocol::MasterHandshake::State;
    if (hs.state() == S::done || hs.state() == S::failed) break;
    if (hs.state() == S::hello_received) {
      const auto& h = hs.agent_hello();
      if (!h.agent) {
        hs.expect_enrollment();
      } else {
        auto current = state_.storage().resolve_agent_name(*h.agent);
        auto record = current ? state_.storage().find_agent(*current) : std::nullopt;
        if (!record || record->revoked) {
          log_line("refused " + peer + ": unknown or revoked agent " + *h.agent);
          hs.reject({ErrorTag::auth_failed, "unknown or revoked agent, or wrong secret"});
          continue;  // the refusal goes out at the top of the loop, then the connection ends
        } else {
          hs.challenge(random_hex(32));
        }
      }
      if (auto e = hs.receive({})) throw std::runtime_error(e->describe());
      continue;
    }
    if (hs.state() == S::auth_received) {
      const auto& h = hs.agent_hello();
      // An agent renamed while it was away still presents its old name (an alias).
      auto current = state_.storage().resolve_agent_name(*h.agent);
      auto record = current ? state_.storage().find_agent(*current) : std::nullopt;
      auto key = record ? protocol::from_hex(record->stored_key_hex) : std::nullopt;
      protocol::Digest stored{};
      if (key && key->size() == stored.size()) std::copy(key->begin(), key->end(), stored.begin());
      if (!record || record->revoked || !key ||
          !protocol::verify_auth_proof(stored, *h.agent, *h.nonce, hs.nonce(), hs.auth().proof)) {
        log_line("refused " + peer + ": failed authentication as " + *h.agent);
        hs.reject({ErrorTag::auth_failed, "unknown or revoked agent, or wrong secret"});
        continue;
      }
      // Resume the agent's session if it asks for the one we still hold.
      protocol::Welcome welcome;
      welcome.codecs = agree_codecs(options_.codecs, h.capabilities.codecs);
      welcome.keepalive_s = std::max(hello.capabilities.keepalive_s, h.capabilities.keepalive_s);
      welcome.dead_after_s = 3 * welcome.keepalive_s;
      const std::string name = record->name;
      auto existing = find(name);
      if (existing && h.resume && h.resume->session == existing->session_id()) {
        existing->invalidate();
        existing->session().connection_lost();
        if (auto e = existing->session().resume(h.resume->received)) {
          log_line("agent " + name + ": cannot resume: " + e->describe());
        } else {
          link = existing;
          welcome.resumed = true;
          welcome.received = link->session().received();
        }
      }
      if (!link && existing) {
        // An older connection still up is told and closed, not left pinging a session
        // nobody can reach (docs/protocol.md 6.3): two processes with one agent's
        // credentials would otherwise both believe they are connected.
        if (existing->online()) {
          existing->kick("replaced: another connection authenticated as agent " + name +
                         " (two agents with the same credentials?)");
        }
        existing->end("the agent started a new session");
        links_.erase(name);
      }
      protocol::SessionConfig config;
      config.is_master = true;
      config.local = hello.capabilities;
      config.remote = h.capabilities;
      config.codecs = welcome.codecs;
      config.ack_only_committed = true;
      if (!link && !existing && h.resume && h.capabilities.reattach) {
        link = restore(name, *h.resume, config, welcome);
      }
      if (!link) {
        close_stored_sessions(name, "the agent started a new session");
        link = add_link(name, "s-" + random_hex(8), std::move(config));
        state_.storage().open_agent_session({link->session_id(), name, 0, now_ms()});
      }
      welcome.session = link->session_id();
      // The replay (queued by resume) must follow the welcome on the wire.
      ByteBuffer replay = std::move(link->session().outgoing());
      link->session().outgoing().clear();
      hs.welcome(welcome);
      co_await write_all(stream, hs.outgoing());
      link->session().outgoing().append(replay.view());
      // Re-attached channels get a window afresh: grants lost with the old process would
      // otherwise leave them without credit for good.
      for (std::uint32_t channel : welcome.channels) link->session().grant(channel, hello.capabilities.window);
      boost::json::object facts = h.facts.value_or(boost::json::object{});
      facts["software"] = h.software;
      // What it declared it supports (codecs, pty, resume, limits): for operators, and for
      // the conformance suite, which tests each agent for what it declares.
      facts["capabilities"] = h.capabilities.to_json();
      state_.storage().update_agent_seen(name, boost::json::serialize(facts), now_ms());
      // A new connection says the agent is back; a leave it announced before is over unless
      // it says so again (status), which a resumed session replays if it was lost.
      if (record->leaving && !welcome.resumed) state_.storage().set_agent_leaving(name, false);
      log_line("agent " + name + " connected from " + peer +
               (welcome.restarted ? " (session " + welcome.session + " re-attached after a restart, " +
                                        std::to_string(welcome.channels.size()) + " command(s) taken up)"
                : welcome.resumed ? " (session " + welcome.session + " resumed)"
                                  : ""));
      break;
    }
    if (hs.state() == S::enroll_received) {
      const auto& enroll = hs.enroll();
      try {
        Transaction tx(state_.storage());  // a use is spent only on an enrolled agent
        auto token = state_.storage().consume_enrollment_token(sha256_hex(enroll.token), now_ms());
        std::string base = enroll.name.value_or("agent");
        if (base.empty()) base = "agent";
        std::string name = base;
        // Taken (by an agent or as an old name): a short suffix keeps it unique.
        for (int i = 0; i < 8 && state_.storage().resolve_agent_name(name); ++i) {
          name = base + "-" + random_hex(2);
        }
        const std::string secret = random_hex(32);
        auto secret_bytes = protocol::from_hex(secret).value();
        AgentRecord record;
        record.name = name;
        record.stored_key_hex = protocol::to_hex(ByteView{protocol::stored_key(secret_bytes)});
        record.labels = token.labels;
        record.created_ms = now_ms();
        record.state = token.approve ? "pending" : "approved";
        state_.storage().add_agent(record);
        tx.commit();
        hs.enrolled({name, secret});
        log_line("enrolled agent " + name + " from " + peer);
      } catch (const StorageError& e) {
        std::string why = e.tag == "token-expired"    ? "this enrollment token has expired"
                          : e.tag == "token-used-up" ? "this enrollment token is used up"
                          : e.tag == "token-invalid" ? "unknown enrollment token (deleted, or never issued by this master)"
                                                      : "the master could not enrol this agent (" + std::string(e.what()) + ")";
        log_line("refused enrolment from " + peer + ": " + why);
        hs.reject({ErrorTag::auth_failed, why});
      }
      continue;
    }
    auto [ec, n] = co_await read_some(stream, asio::buffer(buf));
    if (ec) {
      if (timed_out) log_line("handshake with " + peer + " timed out");
      co_return std::nullopt;
    }
    if (auto e = hs.receive(ByteView{buf.data(), n})) {
      if (hs.state() == protocol::MasterHandshake::State::failed &&
          e->tag != ErrorTag::bad_banner) {
        hs.reject(*e);
        co_await write_all(stream, hs.outgoing());
      }
      log_line("handshake with " + peer + " failed: " + e->describe());
      co_return std::nullopt;
    }
  }
  deadline.cancel();
  if (!link) co_return std::nullopt;
  const bool old_name = hs.agent_hello().agent && *hs.agent_hello().agent != link->name();
  co_return Admitted{std::move(link), hs.take_leftover(), old_name};
}

template <typename Stream>
asio::awaitable<void> AgentHub::serve(Stream& stream, std::shared_ptr<AgentLink> link,
                                      std::uint64_t connection, ByteBuffer leftover) {
  protocol::Session& session = link->session();
  std::optional<ProtocolError> failure;

  auto fail = [&](const ProtocolError& e) {
    failure = e;
    log_line("agent " + link->name() + ": " + e.describe());
  };
  if (!leftover.empty()) {
    if (auto e = session.receive(leftover.view())) fail(*e);
    link->handle_events();
  }

  // The reader runs here, for the whole connection. A writer runs beside it only while there
  // is something to send: link->wake() starts one, and it ends once the output is out. An
  // idle agent then holds no writer at all (a waiting writer coroutine, spawned and
  // cancellable, cost ~1.3 KiB per idle agent; the master serves thousands of them).
  // Each side ends the other: the reader cancels a running writer, a writer that ends the
  // connection (kicked, silent, write failed, replaced) cancels the read. This frame
  // outlives any writer, which uses it: serve() waits for it before returning or unwinding.
  struct WriterState {
    bool running = false;
    bool ends_connection = false;
    bool reading_done = false;
    std::exception_ptr error;
    asio::cancellation_signal stop;
  } w;
  std::exception_ptr reader_error;
  boost::system::error_code ignored;
  auto writer = [&]() -> asio::awaitable<void> {
    ByteBuffer sending;
    while (!w.reading_done) {
      if (!link->is_current(connection)) {
        w.ends_connection = true;  // replaced by a newer connection of the same agent
        co_return;
      }
      if (link->kicked()) {
        fail({ErrorTag::auth_failed, *link->kicked()});
        w.ends_connection = true;  // the error goes out below, then the connection closes
        co_return;
      }
      if (link->silent()) {
        fail({ErrorTag::keepalive_timeout, "nothing received for " + std::to_string(protocol::kDefaultDeadAfterS) + " s"});
        w.ends_connection = true;
        co_return;
      }
      if (session.outgoing().empty()) co_return;
      std::swap(sending, session.outgoing());
      if (co_await write_bytes(stream, asio::buffer(sending.data(), sending.size()))) {
        w.ends_connection = true;
        co_return;
      }
      sending.clear();
      link->sent_to(Clock::now());
    }
  };
  auto start_writer = [&] {
    if (w.running || w.reading_done || w.ends_connection) return;
    w.running = true;
    asio::co_spawn(io_, writer(), asio::bind_cancellation_slot(w.stop.slot(), [&](std::exception_ptr e) {
      w.running = false;
      if (!w.reading_done && e) {
        w.error = e;
        w.ends_connection = true;
      }
      if (w.ends_connection) {
        cancel_read(stream);
      } else if (!session.outgoing().empty() || link->kicked() || link->silent()) {
        link->wake();  // woken after its last look at the output: once more
      }
      link->writer_done().notify();  // for serve() waiting for it
    }));
  };
  link->set_waker(connection, [&start_writer] { start_writer(); });
  try {
    start_writer();  // what the handshake and the leftover queued
    // Sized by the traffic: thousands of idle agents wait with no buffer and read with a
    // small one; a link whose reads fill it gets a larger one (up to 256 KiB), and gives it
    // back once quiet.
    constexpr std::size_t kIdleRead = 512, kBusyRead = 256 * 1024;
    std::vector<std::uint8_t> buf;
    int quiet_reads = 0;
    while (!failure && !w.ends_connection && link->is_current(connection)) {
      if (buf.empty()) {
        auto [wait_ec] = co_await wait_readable(stream);
        if (wait_ec || !link->is_current(connection)) break;
        buf.resize(kIdleRead);
      }
      auto [ec, n] = co_await read_some(stream, asio::buffer(buf));
      if (ec || !link->is_current(connection)) break;
      link->heard_from(Clock::now());
      if (auto e = session.receive(ByteView{buf.data(), n})) {
        fail(*e);
        break;
      }
      link->handle_events();
      if (n == buf.size() && buf.size() < kBusyRead) {
        buf.resize(std::min(buf.size() * 8, kBusyRead));  // 4 KiB, 32 KiB, 256 KiB
        quiet_reads = 0;
      } else if (buf.size() > kIdleRead && n < kIdleRead && ++quiet_reads >= 64) {
        quiet_reads = 0;
        std::vector<std::uint8_t>(kIdleRead).swap(buf);
      } else if (buf.size() == kIdleRead && n < kIdleRead) {
        std::vector<std::uint8_t>().swap(buf);  // quiet: the next wait holds no buffer
      }
    }
  } catch (...) {
    reader_error = std::current_exception();
  }
  w.reading_done = true;
  link->clear_waker(connection);
  if (w.running) {
    w.stop.emit(asio::cancellation_type::terminal);
    while (w.running) co_await link->writer_done().wait();
  }
  if (reader_error) std::rethrow_exception(reader_error);
  if (w.error) std::rethrow_exception(w.error);
  if (failure) {
    // Best effort: tell the agent why, unsequenced, then end the session for good.
    ByteBuffer out;
    std::string text =
        boost::json::serialize(protocol::ErrorMessage::from(*failure).to_json());
    protocol::append_frame(out, {.type = protocol::FrameType::control}, protocol::as_bytes(text));
    co_await write_bytes(stream, asio::buffer(out.data(), out.size()));
    if (failure->tag != ErrorTag::keepalive_timeout && !link->kicked() && link->is_current(connection)) {
      link->detach(connection);
      link->end("protocol error: " + failure->describe());
      links_.erase(link->name());
    }
  }
  lowest(stream).shutdown(tcp::socket::shutdown_both, ignored);
  lowest(stream).close(ignored);
}

}  // namespace remsh::master
