// `remsh-agent enroll` (core/enroll.cpp) against an in-process master on loopback
// (plaintext), played with protocol::MasterHandshake on its own thread, since enroll()
// runs its own io_context to completion.
#include "core/agent_config.hpp"
#include "core/enroll.hpp"
#include "temp_dir.hpp"

#include "remsh/protocol/enrollment_token.hpp"
#include "remsh/protocol/handshake.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <iostream>
#include <sstream>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace remsh::agent;
using namespace remsh::protocol;
using remsh::agent::test::TempDir;
using namespace std::chrono_literals;

const std::string kGrantedSecret(64, 'e');

// A master that accepts one enrolment: grants it when the token secret is "good-secret",
// refuses it with auth-failed otherwise.
class EnrollingMaster {
 public:
  EnrollingMaster() : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {}
  ~EnrollingMaster() {
    if (thread_.joinable()) thread_.join();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }

  void start() {
    thread_ = std::thread([this] {
      asio::co_spawn(io_, serve(), [this](std::exception_ptr e) { failure_ = e; });
      io_.run_for(15s);
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }

  std::string token_seen, name_seen;

 private:
  asio::awaitable<void> serve() {
    tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
    Hello hello;
    hello.software = "enrolling-master";
    MasterHandshake hs(hello);
    hs.start();
    co_await flush(socket, hs.outgoing());
    while (hs.state() != MasterHandshake::State::hello_received) co_await read(socket, hs);
    hs.expect_enrollment();
    co_await flush(socket, hs.outgoing());
    while (hs.state() != MasterHandshake::State::enroll_received) co_await read(socket, hs);
    token_seen = hs.enroll().token;
    name_seen = hs.enroll().name.value_or("");
    if (token_seen == "good-secret") {
      const Enrolled granted{name_seen, kGrantedSecret};
      hs.enrolled(granted);
    } else {
      const ProtocolError refusal{ErrorTag::auth_failed, "token used up"};
      hs.reject(refusal);
    }
    co_await flush(socket, hs.outgoing());
  }

  static asio::awaitable<void> flush(tcp::socket& socket, ByteBuffer& out) {
    ByteBuffer chunk;
    std::swap(chunk, out);
    co_await asio::async_write(socket, asio::buffer(chunk.data(), chunk.size()), asio::use_awaitable);
  }

  static asio::awaitable<void> read(tcp::socket& socket, MasterHandshake& hs) {
    std::uint8_t buf[4096];
    const std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::use_awaitable);
    if (auto e = hs.receive(ByteView{buf, n})) throw std::runtime_error(e->describe());
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::exception_ptr failure_;
};

std::string token_for(const std::string& address, const std::string& secret) {
  EnrollmentToken t;
  t.master = address;
  t.secret = secret;
  t.plaintext = true;
  return t.encode();
}

// Runs enroll() with stdout and stderr captured.
struct Captured {
  int code = -1;
  std::string out, err;
};

Captured run_enroll(const EnrollOptions& options) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  Captured c;
  try {
    c.code = enroll(options);
  } catch (...) {
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    throw;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  c.out = out.str();
  c.err = err.str();
  return c;
}

}  // namespace

TEST_CASE("enroll: a good token gives credentials saved in a private agent.json", "[enroll]") {
  TempDir tmp;
  EnrollingMaster master;
  master.start();
  EnrollOptions options;
  options.token = token_for(master.address(), "good-secret");
  options.config_dir = tmp.path() / "conf";
  options.name = "volunteer-1";
  options.allow_plaintext = true;
  const Captured r = run_enroll(options);
  master.join();
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "enrolled as volunteer-1 with " + master.address() + "\n");
  CHECK(master.token_seen == "good-secret");
  CHECK(master.name_seen == "volunteer-1");

  const AgentConfig config = load_config(tmp.path() / "conf");
  CHECK(config.master == master.address());
  CHECK(config.plaintext);
  CHECK(config.name == "volunteer-1");
  CHECK(config.secret == kGrantedSecret);
  CHECK(config.work_dir == tmp.path() / "conf" / "work");
  CHECK(fs::is_directory(config.work_dir));
  struct stat st {};
  REQUIRE(::stat(config_path(tmp.path() / "conf").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("enroll: a refused token prints the master's tag and message", "[enroll]") {
  TempDir tmp;
  EnrollingMaster master;
  master.start();
  EnrollOptions options;
  options.token = token_for(master.address(), "spent-secret");
  options.config_dir = tmp.path() / "conf";
  options.name = "volunteer-2";
  options.allow_plaintext = true;
  const Captured r = run_enroll(options);
  master.join();
  CHECK(r.code == 1);
  CHECK(r.err == "remsh-agent: auth-failed: token used up\n");
  CHECK_FALSE(fs::exists(config_path(tmp.path() / "conf")));
}

TEST_CASE("enroll: a plaintext token needs --insecure-plaintext and a bad token is refused", "[enroll]") {
  TempDir tmp;
  EnrollOptions options;
  options.token = token_for("127.0.0.1:1", "whatever");
  options.config_dir = tmp.path();
  Captured r = run_enroll(options);
  CHECK(r.code == 2);
  CHECK(r.err.find("--insecure-plaintext") != std::string::npos);

  options.token = "remsh1_not-base64!";
  r = run_enroll(options);
  CHECK(r.code == 2);
  CHECK(r.err.find("not a remsh enrollment token") != std::string::npos);
}
