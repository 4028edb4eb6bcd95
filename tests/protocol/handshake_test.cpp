#include <catch2/catch.hpp>

#include "remsh/protocol/auth.hpp"
#include "remsh/protocol/banner.hpp"
#include "remsh/protocol/handshake.hpp"

using namespace remsh::protocol;

namespace {

Hello agent_hello() {
  Hello h;
  h.software = "test-agent";
  h.nonce = std::string(64, '1');
  return h;
}

Hello master_hello() {
  Hello h;
  h.software = "test-master";
  return h;
}

// Moves bytes both ways one byte at a time, to exercise every split point.
void exchange(AgentHandshake& agent, MasterHandshake& master, bool bytewise = true) {
  for (int round = 0; round < 4; ++round) {
    ByteBuffer& a = agent.outgoing();
    for (std::size_t i = 0; i < a.size(); i += bytewise ? 1 : a.size()) {
      std::size_t n = bytewise ? 1 : a.size();
      auto e = master.receive(a.view().subspan(i, n));
      if (e) FAIL(e->describe());
    }
    a.clear();
    ByteBuffer& m = master.outgoing();
    auto e = agent.receive(m.view());
    if (e) FAIL(e->describe());
    m.clear();
  }
}

}  // namespace

TEST_CASE("handshake: an enrolled agent authenticates and gets a session", "[handshake]") {
  std::vector<std::uint8_t> secret(32, 0x42);
  AgentHandshake agent(agent_hello(), AgentCredentials{"builder", secret}, std::nullopt);
  MasterHandshake master(master_hello());
  agent.start();
  master.start();
  exchange(agent, master);
  REQUIRE(master.state() == MasterHandshake::State::hello_received);
  REQUIRE(master.agent_hello().agent == "builder");
  master.challenge(std::string(64, '2'));
  exchange(agent, master);
  REQUIRE(master.state() == MasterHandshake::State::auth_received);
  REQUIRE(verify_auth_proof(stored_key(secret), "builder", *master.agent_hello().nonce,
                            master.nonce(), master.auth().proof));
  master.welcome(Welcome{"s-1", false, 0, {Codec::deflate}, 15, 45});
  exchange(agent, master);
  REQUIRE(agent.done());
  REQUIRE(agent.welcome().session == "s-1");
  REQUIRE(agent.master_hello().role == "master");
}

TEST_CASE("handshake: a wrong secret fails the proof and the master's error reaches the agent",
          "[handshake]") {
  AgentHandshake agent(agent_hello(), AgentCredentials{"builder", std::vector<std::uint8_t>(32, 1)},
                       std::nullopt);
  MasterHandshake master(master_hello());
  agent.start();
  master.start();
  exchange(agent, master);
  master.challenge(std::string(64, '3'));
  exchange(agent, master);
  REQUIRE_FALSE(verify_auth_proof(stored_key(std::vector<std::uint8_t>(32, 2)), "builder",
                                  *master.agent_hello().nonce, master.nonce(),
                                  master.auth().proof));
  master.reject({ErrorTag::auth_failed, "unknown agent or wrong secret"});
  auto e = agent.receive(master.outgoing().view());
  REQUIRE(e);
  REQUIRE(e->tag == ErrorTag::auth_failed);
  REQUIRE(agent.state() == AgentHandshake::State::failed);
}

TEST_CASE("handshake: enrolment trades a token for credentials", "[handshake]") {
  AgentHandshake agent(agent_hello(), std::nullopt, Enroll{"tok", "laptop"});
  MasterHandshake master(master_hello());
  agent.start();
  master.start();
  exchange(agent, master, false);
  REQUIRE(master.state() == MasterHandshake::State::hello_received);
  REQUIRE_FALSE(master.agent_hello().agent);
  master.expect_enrollment();
  exchange(agent, master, false);
  REQUIRE(master.state() == MasterHandshake::State::enroll_received);
  REQUIRE(master.enroll().token == "tok");
  master.enrolled(Enrolled{"laptop", std::string(64, 'f')});
  exchange(agent, master, false);
  REQUIRE(agent.done());
  REQUIRE(agent.enrolled().agent == "laptop");
}

TEST_CASE("handshake: a non-remsh peer is refused at the greeting", "[handshake]") {
  MasterHandshake master(master_hello());
  master.start();
  auto e = master.receive(as_bytes("GET / HTTP/1.1\r\n"));
  REQUIRE(e);
  REQUIRE(e->tag == ErrorTag::bad_banner);
}

TEST_CASE("handshake: sequenced frames before welcome are refused", "[handshake]") {
  MasterHandshake master(master_hello());
  master.start();
  ByteBuffer wire;
  auto banner = encode_banner(1);
  wire.append(ByteView{banner});
  append_frame(wire, {.type = FrameType::control, .seq = 1}, as_bytes(R"({"type":"hello"})"));
  auto e = master.receive(wire.view());
  REQUIRE(e);
  REQUIRE(e->tag == ErrorTag::bad_message);
}

TEST_CASE("handshake: bytes after welcome are left for the session", "[handshake]") {
  AgentHandshake agent(agent_hello(), AgentCredentials{"a", std::vector<std::uint8_t>(32)},
                       std::nullopt);
  MasterHandshake master(master_hello());
  agent.start();
  master.start();
  exchange(agent, master);
  master.challenge(std::string(64, '4'));
  exchange(agent, master);
  master.welcome(Welcome{"s", false, 0, {Codec::deflate}, 15, 45});
  append_ack(master.outgoing(), 0);  // first session bytes, in the same read
  REQUIRE_FALSE(agent.receive(master.outgoing().view()));
  REQUIRE(agent.done());
  REQUIRE(agent.take_leftover().size() == kFrameHeaderSize + 8);
}
