// AgentRunner end to end, without the real master: the test accepts the agent's plaintext
// connection on 127.0.0.1 and plays the master with protocol::MasterHandshake and
// protocol::Session, opening exec channels and checking what comes back. Also cuts the
// connection mid-command to check that the session resumes and nothing is lost or doubled.
#include "core/agent_runner.hpp"
#include "core/log.hpp"
#include "temp_dir.hpp"

#include "remsh/protocol/auth.hpp"
#include "remsh/protocol/handshake.hpp"
#include "remsh/protocol/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>

#include <functional>
#include <map>
#include <mutex>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace remsh::agent;
using namespace remsh::protocol;
using remsh::agent::test::TempDir;
using namespace std::chrono_literals;

const std::vector<std::uint8_t> kSecret(32, 0x5a);
const std::string kAgentName = "loopback-agent";

// What one channel brought back.
struct ChannelLog {
  std::string out, err, tty;
  bool out_ended = false, err_ended = false;
  std::vector<ControlMessage> messages;
  bool closed = false;  // the agent sent close

  const ControlMessage* find(const std::string& type) const {
    for (const auto& m : messages) {
      if (m.type == type) return &m;
    }
    return nullptr;
  }
};

// The test process is also the agent, whose children would inherit the master's sockets
// (Asio does not set close-on-exec), keeping a "cut" connection open.
template <typename Socket>
void keep_from_children(Socket& s) {
  ::fcntl(s.native_handle(), F_SETFD, ::fcntl(s.native_handle(), F_GETFD) | FD_CLOEXEC);
}

// The master's side of one connection.
class FakeMaster {
 public:
  explicit FakeMaster(tcp::socket socket) : socket_(std::move(socket)) { keep_from_children(socket_); }

  // Handshake: authenticates the agent (checking its proof) and welcomes it, resuming
  // `previous` when the agent asks for it and it is given.
  // (Arguments are pointers and named objects: GCC 12 mishandles temporaries with
  // destructors in a co_await expression.)
  asio::awaitable<void> handshake(Session* previous, const std::string& session_id,
                                  const ProtocolError* reject = nullptr) {
    Hello hello;
    hello.software = "fake-master";
    MasterHandshake hs(hello);
    hs.start();
    co_await write(hs.outgoing());
    while (hs.state() != MasterHandshake::State::hello_received) co_await read_into(hs);
    agent_hello_ = hs.agent_hello();
    REQUIRE(agent_hello_.agent == kAgentName);
    REQUIRE(agent_hello_.nonce);
    REQUIRE(agent_hello_.nonce->size() == 64);
    hs.challenge(std::string(64, 'c'));
    co_await write(hs.outgoing());
    while (hs.state() != MasterHandshake::State::auth_received) co_await read_into(hs);
    REQUIRE(verify_auth_proof(stored_key(kSecret), kAgentName, *agent_hello_.nonce, hs.nonce(),
                              hs.auth().proof));
    if (reject) {
      hs.reject(*reject);
      co_await write(hs.outgoing());
      cut();
      co_return;
    }
    Welcome welcome{session_id, false, 0, {Codec::zstd, Codec::deflate}, 15, 45};
    if (previous && agent_hello_.resume && agent_hello_.resume->session == session_id) {
      welcome.resumed = true;
      welcome.received = previous->received();
    }
    hs.welcome(welcome);
    co_await write(hs.outgoing());
    if (welcome.resumed) {
      resumed_ = true;
      previous->connection_lost();
      REQUIRE_FALSE(previous->resume(agent_hello_.resume->received));
      session_ = previous;
    } else {
      SessionConfig config;
      config.is_master = true;
      config.remote = agent_hello_.capabilities;
      config.codecs = welcome.codecs;
      owned_ = std::make_unique<Session>(config);
      session_ = owned_.get();
    }
    auto leftover = hs.take_leftover();
    if (!leftover.empty()) feed(leftover.view());
  }

  Session& session() { return *session_; }
  std::map<std::uint32_t, ChannelLog>& channels() { return channels_; }
  const Hello& agent_hello() const { return agent_hello_; }
  bool resumed() const { return resumed_; }
  std::unique_ptr<Session> take_session() { return std::move(owned_); }

  // Sends what the session queued, then reads and handles frames until done() holds.
  template <typename Done>
  asio::awaitable<void> serve_until(Done done) {
    for (;;) {
      session_->flush_ack();
      co_await write(session_->outgoing());
      if (done()) co_return;
      std::uint8_t buf[16384];
      const std::size_t n = co_await socket_.async_read_some(asio::buffer(buf), asio::use_awaitable);
      feed(ByteView{buf, n});
    }
  }

  void cut() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  asio::awaitable<void> write(ByteBuffer& out) {
    if (out.empty()) co_return;
    ByteBuffer chunk;
    std::swap(chunk, out);
    co_await asio::async_write(socket_, asio::buffer(chunk.data(), chunk.size()), asio::use_awaitable);
  }

  asio::awaitable<void> read_into(MasterHandshake& hs) {
    std::uint8_t buf[4096];
    const std::size_t n = co_await socket_.async_read_some(asio::buffer(buf), asio::use_awaitable);
    auto e = hs.receive(ByteView{buf, n});
    if (e) FAIL("master handshake: " << e->describe());
  }

  void feed(ByteView bytes) {
    if (auto e = session_->receive(bytes)) FAIL("master session: " << e->describe());
    while (auto event = session_->poll()) {
      if (auto* d = std::get_if<ChannelData>(&*event)) {
        auto& log = channels_[d->channel];
        std::string text(d->bytes.begin(), d->bytes.end());
        if (d->stream == stream_id::stdout_) {
          log.out += text;
          log.out_ended = log.out_ended || d->end_of_stream;
        } else if (d->stream == stream_id::stderr_) {
          log.err += text;
          log.err_ended = log.err_ended || d->end_of_stream;
        } else if (d->stream == stream_id::tty) {
          log.tty += text;
        }
        session_->consumed(d->channel, d->bytes.size());
      } else if (auto* m = std::get_if<ChannelMessage>(&*event)) {
        auto& log = channels_[m->channel];
        log.messages.push_back(m->message);
        if (m->message.type == "close") {
          log.closed = true;
          session_->close_channel(m->channel);
        }
      } else if (auto* closed = std::get_if<ChannelClosed>(&*event)) {
        // Both sides closed; when the master closed first its session drops what the agent
        // sent meanwhile (a "cancelled" result) and reports only this.
        channels_[closed->channel].closed = true;
      } else if (auto* c = std::get_if<ConnectionMessage>(&*event)) {
        connection_messages.push_back(c->message.type);
      }
    }
  }

 public:
  std::vector<std::string> connection_messages;

 private:
  tcp::socket socket_;
  Hello agent_hello_;
  std::unique_ptr<Session> owned_;
  Session* session_ = nullptr;
  bool resumed_ = false;
  std::map<std::uint32_t, ChannelLog> channels_;
};

struct Fixture {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  TempDir tmp;
  fs::path work = tmp.path() / "work";
  std::mutex log_mutex;
  std::vector<std::string> log;
  std::unique_ptr<AgentRunner> runner;
  std::string waiting_for;  // what the master still waits for, for a failure message

  Fixture() {
    keep_from_children(acceptor);
    fs::create_directories(work / "sub");
    set_log_sink([this](const std::string& line) {
      const std::lock_guard lock(log_mutex);
      log.push_back(line);
    });
    RunnerOptions options;
    options.config.master = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    options.config.plaintext = true;
    options.config.name = kAgentName;
    options.config.secret = to_hex(kSecret);
    options.config.work_dir = work;
    options.allow_plaintext = true;
    runner = std::make_unique<AgentRunner>(io.get_executor(), options);
  }
  ~Fixture() { set_log_sink(nullptr); }

  std::string log_text() {
    const std::lock_guard lock(log_mutex);
    std::string all;
    for (const auto& l : log) all += l + "\n";
    return all;
  }

  // Runs the agent and `master` until both are done (or the time limit passes).
  void run(std::function<asio::awaitable<void>()> master, std::chrono::seconds limit = 20s) {
    bool agent_done = false, master_done = false;
    std::exception_ptr master_failure;
    asio::co_spawn(io, runner->run(), [&](std::exception_ptr) { agent_done = true; });
    asio::co_spawn(io, master(), [&](std::exception_ptr e) {
      master_done = true;
      master_failure = e;
      runner->stop();
    });
    io.run_for(limit);
    INFO(log_text());
    INFO("master waiting for:" << waiting_for);
    if (master_failure) std::rethrow_exception(master_failure);
    REQUIRE(master_done);
    REQUIRE(agent_done);
  }
};

std::int64_t int_field(const ControlMessage& m, const char* key) {
  return m.body.at(key).as_int64();
}

std::string string_field(const ControlMessage& m, const char* key) {
  return std::string(m.body.at(key).as_string());
}

}  // namespace

TEST_CASE("agent runner: runs exec channels for a master over a loopback connection", "[runner]") {
  Fixture f;
  std::map<std::string, ChannelLog> got;
  std::vector<std::string> master_saw;
  std::string hello_software;

  f.run([&]() -> asio::awaitable<void> {
    FakeMaster m(co_await f.acceptor.async_accept(asio::use_awaitable));
    const std::string session_id = "s-loop";
    co_await m.handshake(nullptr, session_id);
    hello_software = m.agent_hello().software;

    ExecRequest shell;
    shell.shell = "echo out; echo err >&2; exit 3";
    const auto sh = *m.session().open_channel(shell.to_json());

    ExecRequest cat;
    cat.argv = {"cat"};
    cat.stdin_ = true;
    const auto cat_id = *m.session().open_channel(cat.to_json());
    REQUIRE(m.session().send_data(cat_id, stream_id::stdin_, as_bytes("to stdin\n"), true) == 9);

    ExecRequest escape;
    escape.argv = {"pwd"};
    escape.cwd = "../..";
    const auto escape_id = *m.session().open_channel(escape.to_json());

    ExecRequest in_sub;
    in_sub.argv = {"pwd"};
    in_sub.cwd = "sub";
    const auto pwd_id = *m.session().open_channel(in_sub.to_json());

    ExecRequest sleeper;
    sleeper.argv = {"sleep", "30"};
    const auto sleep_id = *m.session().open_channel(sleeper.to_json());

    ExecRequest missing;
    missing.argv = {"/nonexistent/program"};
    const auto missing_id = *m.session().open_channel(missing.to_json());

    ExecRequest slow;
    slow.argv = {"sleep", "30"};
    slow.timeout_s = 1;
    const auto timeout_id = *m.session().open_channel(slow.to_json());

    ExecRequest quiet;
    quiet.shell = "echo first; sleep 30";
    quiet.no_output_timeout_s = 1;
    const auto quiet_id = *m.session().open_channel(quiet.to_json());

    ExecRequest terminal;
    terminal.shell = "test -t 0 && test -t 1 && echo on-a-tty";
    terminal.pty = PtyRequest{};
    const auto tty_id = *m.session().open_channel(terminal.to_json());

    // Cancel the sleeper once it runs.
    co_await m.serve_until([&] { return m.channels()[sleep_id].find("opened") != nullptr; });
    m.session().close_channel(sleep_id);

    co_await m.serve_until([&] {
      f.waiting_for.clear();
      for (auto id : {sh, cat_id, escape_id, pwd_id, sleep_id, missing_id, timeout_id, quiet_id, tty_id}) {
        if (!m.channels()[id].closed) f.waiting_for += " channel " + std::to_string(id);
      }
      return f.waiting_for.empty();
    });
    got["sh"] = m.channels()[sh];
    got["cat"] = m.channels()[cat_id];
    got["escape"] = m.channels()[escape_id];
    got["pwd"] = m.channels()[pwd_id];
    got["sleep"] = m.channels()[sleep_id];
    got["missing"] = m.channels()[missing_id];
    got["timeout"] = m.channels()[timeout_id];
    got["quiet"] = m.channels()[quiet_id];
    got["tty"] = m.channels()[tty_id];
    REQUIRE(m.session().open_channels() == 0);
    // The agent says goodbye when it is stopped.
    f.runner->stop();
    co_await m.serve_until([&] { return !m.connection_messages.empty(); });
    master_saw = m.connection_messages;
  });

  CHECK(hello_software.rfind("remsh-agent/", 0) == 0);

  const ChannelLog& sh = got["sh"];
  REQUIRE(sh.find("opened"));
  CHECK(int_field(*sh.find("opened"), "pid") > 0);
  CHECK(sh.out == "out\n");
  CHECK(sh.err == "err\n");
  CHECK(sh.out_ended);
  CHECK(sh.err_ended);
  REQUIRE(sh.find("result"));
  CHECK(string_field(*sh.find("result"), "reason") == "exited");
  CHECK(int_field(*sh.find("result"), "exit_code") == 3);
  REQUIRE(sh.messages.size() == 3);
  CHECK(sh.messages[0].type == "opened");
  CHECK(sh.messages[1].type == "result");
  CHECK(sh.messages[2].type == "close");

  CHECK(got["cat"].out == "to stdin\n");
  CHECK(int_field(*got["cat"].find("result"), "exit_code") == 0);

  REQUIRE(got["escape"].find("error"));
  CHECK(string_field(*got["escape"].find("error"), "tag") == "path-outside-workdir");
  CHECK_FALSE(got["escape"].find("opened"));
  CHECK(got["escape"].closed);

  CHECK(got["pwd"].out == (f.work / "sub").string() + "\n");

  // Cancelled: the process tree is gone once the channel is closed both ways.
  REQUIRE(got["sleep"].find("opened"));
  CHECK(::kill(static_cast<pid_t>(int_field(*got["sleep"].find("opened"), "pid")), 0) != 0);

  REQUIRE(got["missing"].find("error"));
  CHECK(string_field(*got["missing"].find("error"), "tag") == "exec-failed");

  REQUIRE(got["timeout"].find("result"));
  CHECK(string_field(*got["timeout"].find("result"), "reason") == "timeout");
  CHECK(string_field(*got["timeout"].find("result"), "signal") == "KILL");

  REQUIRE(got["quiet"].find("result"));
  CHECK(got["quiet"].out == "first\n");
  CHECK(string_field(*got["quiet"].find("result"), "reason") == "no-output-timeout");

  REQUIRE(got["tty"].find("result"));
  CHECK(got["tty"].tty == "on-a-tty\r\n");
  CHECK(got["tty"].out.empty());
  CHECK(int_field(*got["tty"].find("result"), "exit_code") == 0);

  CHECK(master_saw == std::vector<std::string>{"goodbye"});
}

TEST_CASE("agent runner: a cut connection resumes and delivers every byte once", "[runner]") {
  Fixture f;
  std::string out;
  bool resumed = false;
  std::optional<ResumeRequest> resume_asked;
  std::string result_reason;
  std::int64_t exit_code = -1;

  f.run([&]() -> asio::awaitable<void> {
    const std::string session_id = "s-resume";
    std::unique_ptr<Session> session;
    std::uint32_t id = 0;
    {
      FakeMaster first(co_await f.acceptor.async_accept(asio::use_awaitable));
      co_await first.handshake(nullptr, session_id);
      ExecRequest r;
      // Output before and after the cut; the second part is produced while the link is down.
      r.shell = "echo before; sleep 1; echo after; exit 7";
      id = *first.session().open_channel(r.to_json());
      co_await first.serve_until([&] { return first.channels()[id].out == "before\n"; });
      out = first.channels()[id].out;
      session = first.take_session();
      first.cut();
    }
    FakeMaster second(co_await f.acceptor.async_accept(asio::use_awaitable));
    co_await second.handshake(session.get(), session_id);
    resumed = second.resumed();
    resume_asked = second.agent_hello().resume;
    co_await second.serve_until([&] { return second.channels()[id].closed; });
    const ChannelLog& log = second.channels()[id];
    out += log.out;
    result_reason = string_field(*log.find("result"), "reason");
    exit_code = int_field(*log.find("result"), "exit_code");
  });

  REQUIRE(resume_asked);
  CHECK(resume_asked->session == "s-resume");
  CHECK(resumed);
  CHECK(out == "before\nafter\n");
  CHECK(result_reason == "exited");
  CHECK(exit_code == 7);
  CHECK(f.log_text().find("session s-resume resumed") != std::string::npos);
}

TEST_CASE("agent runner: a master that does not resume gets a fresh session and old processes die",
          "[runner]") {
  Fixture f;
  bool second_resumed = true;
  std::string first_pid_alive_after;

  f.run([&]() -> asio::awaitable<void> {
    std::int64_t pid = 0;
    {
      FakeMaster first(co_await f.acceptor.async_accept(asio::use_awaitable));
      const std::string old_id = "s-old";
      co_await first.handshake(nullptr, old_id);
      ExecRequest r;
      r.argv = {"sleep", "30"};
      const auto id = *first.session().open_channel(r.to_json());
      co_await first.serve_until([&] { return first.channels()[id].find("opened") != nullptr; });
      pid = int_field(*first.channels()[id].find("opened"), "pid");
      first.cut();
    }
    FakeMaster second(co_await f.acceptor.async_accept(asio::use_awaitable));
    const std::string new_id = "s-new";  // the master forgot the old session
    co_await second.handshake(nullptr, new_id);
    second_resumed = second.resumed();
    // The new session works.
    ExecRequest r;
    r.argv = {"true"};
    const auto id = *second.session().open_channel(r.to_json());
    co_await second.serve_until([&] { return second.channels()[id].closed; });
    first_pid_alive_after = ::kill(static_cast<pid_t>(pid), 0) == 0 ? "alive" : "gone";
  });

  CHECK_FALSE(second_resumed);
  CHECK(first_pid_alive_after == "gone");
  CHECK(f.log_text().find("session s-old was not resumed") != std::string::npos);
}

TEST_CASE("agent runner: retries an unreachable or refusing master with backoff", "[runner]") {
  Fixture f;
  const tcp::endpoint endpoint = f.acceptor.local_endpoint();
  f.acceptor.close();  // nobody listens: connection refused
  bool ran = false;

  f.run([&]() -> asio::awaitable<void> {
    asio::steady_timer pause(f.io);
    pause.expires_after(1200ms);  // the first attempt fails, the second (after ~0.5 s) too
    co_await pause.async_wait(asio::use_awaitable);
    f.acceptor.open(endpoint.protocol());
    f.acceptor.set_option(tcp::acceptor::reuse_address(true));
    f.acceptor.bind(endpoint);
    f.acceptor.listen();
    keep_from_children(f.acceptor);
    {
      FakeMaster refusing(co_await f.acceptor.async_accept(asio::use_awaitable));
      const std::string unused_id = "s-x";
      const ProtocolError busy{ErrorTag::internal, "master busy"};
      co_await refusing.handshake(nullptr, unused_id, &busy);
    }
    FakeMaster m(co_await f.acceptor.async_accept(asio::use_awaitable));
    const std::string retry_id = "s-retry";
    co_await m.handshake(nullptr, retry_id);
    ExecRequest r;
    r.argv = {"true"};
    const auto id = *m.session().open_channel(r.to_json());
    co_await m.serve_until([&] { return m.channels()[id].closed; });
    ran = true;
  });

  CHECK(ran);
  const std::string log = f.log_text();
  CHECK(log.find("connection failed: connecting to 127.0.0.1") != std::string::npos);
  CHECK(log.find("connection failed: internal: master busy") != std::string::npos);
  CHECK(log.find("reconnecting in") != std::string::npos);
  CHECK_FALSE(f.runner->refused());
}

TEST_CASE("agent runner: a master that refuses its credentials stops it for good", "[runner]") {
  Fixture f;
  f.run([&]() -> asio::awaitable<void> {
    FakeMaster refusing(co_await f.acceptor.async_accept(asio::use_awaitable));
    const std::string unused_id = "s-x";
    const ProtocolError revoked{ErrorTag::auth_failed, "agent revoked"};
    co_await refusing.handshake(nullptr, unused_id, &revoked);
    // No second attempt comes: the runner has stopped by itself.
    asio::steady_timer pause(f.io);
    pause.expires_after(1500ms);
    co_await pause.async_wait(asio::use_awaitable);
  });
  CHECK(f.runner->refused());
  const std::string log = f.log_text();
  CHECK(log.find("refused this agent's credentials (agent revoked)") != std::string::npos);
  CHECK(log.find("reconnecting in") == std::string::npos);
}
