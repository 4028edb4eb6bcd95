// A Session whose writer sends sequenced frames straight from the replay buffer
// (SessionConfig::write_from_replay, the agent's way), against a master Session in memory.
#include <catch2/catch.hpp>

#include <random>

#include "remsh/protocol/session.hpp"
#include "test_bytes.hpp"

using namespace remsh::protocol;
using remsh::test::random_bytes;

namespace {

SessionConfig config(bool master) {
  SessionConfig c;
  c.is_master = master;
  c.local.window = 1u << 20;
  c.remote.window = 1u << 20;
  c.codecs = {Codec::deflate};
  c.write_from_replay = !master;
  return c;
}

// What the agent's writer would put on the wire now: unsequenced frames, then every frame
// not taken yet.
ByteBuffer write_all(Session& agent) {
  ByteBuffer wire;
  wire.append(agent.outgoing().view());
  agent.outgoing().clear();
  while (auto frame = agent.take_unwritten()) wire.append(*frame);
  return wire;
}

void to_agent(Session& master, Session& agent) {
  auto e = agent.receive(master.outgoing().view());
  if (e) FAIL(e->describe());
  master.outgoing().clear();
}

std::vector<std::uint8_t> stdout_of(Session& master) {
  std::vector<std::uint8_t> got;
  while (auto e = master.poll()) {
    if (auto* d = std::get_if<ChannelData>(&*e)) {
      got.insert(got.end(), d->bytes.begin(), d->bytes.end());
      master.consumed(d->channel, d->bytes.size());
    }
  }
  return got;
}

// A master with an exec channel (id 1) open on the agent.
void open_channel(Session& master, Session& agent) {
  ExecRequest r;
  r.argv = {"true"};
  master.open_channel(r.to_json());
  to_agent(master, agent);
  while (agent.poll()) {
  }
}

std::size_t send_all(Session& agent, ByteView bytes, std::size_t piece) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const std::size_t n = agent.send_data(1, 1, bytes.subspan(sent, std::min(piece, bytes.size() - sent)));
    if (n == 0) break;
    sent += n;
  }
  return sent;
}

}  // namespace

TEST_CASE("write from replay: frames reach the peer byte-exact, and outgoing() keeps no copy", "[session]") {
  Session master(config(true)), agent(config(false));
  open_channel(master, agent);
  std::mt19937_64 rng(5);
  const auto payload = random_bytes(rng, 300000, true);
  REQUIRE(send_all(agent, payload, 7000) == payload.size());
  CHECK(agent.outgoing().size() < 100);  // an ACK of the open at most
  CHECK(agent.unwritten_bytes() > 0);
  const ByteBuffer wire = write_all(agent);
  CHECK(agent.unwritten_bytes() == 0);
  REQUIRE_FALSE(master.receive(wire.view()));
  CHECK(stdout_of(master) == payload);
}

TEST_CASE("write from replay: an ACK of a frame not yet taken is bad-sequence", "[session]") {
  Session master(config(true)), agent(config(false));
  open_channel(master, agent);
  const std::string text(5000, 'x');
  send_all(agent, as_bytes(text), 1000);  // five frames, none written
  REQUIRE(agent.take_unwritten());        // the ACK of the open, then the first frame
  ByteBuffer ack;
  append_ack(ack, agent.last_sent());
  auto error = agent.receive(ack.view());
  REQUIRE(error);
  CHECK(error->tag == ErrorTag::bad_sequence);
}

TEST_CASE("write from replay: an ACK of what was taken frees it", "[session]") {
  Session master(config(true)), agent(config(false));
  open_channel(master, agent);
  send_all(agent, as_bytes(std::string(5000, 'x')), 1000);
  write_all(agent);
  ByteBuffer ack;
  append_ack(ack, agent.last_sent());
  REQUIRE_FALSE(agent.receive(ack.view()));
  CHECK(agent.replay_bytes() == 0);
}

TEST_CASE("write from replay: a taken frame's bytes stay put while many more are produced", "[session]") {
  Session master(config(true)), agent(config(false));
  open_channel(master, agent);
  std::mt19937_64 rng(6);
  const auto first = random_bytes(rng, 3000, false);
  send_all(agent, first, first.size());
  write_all(agent);  // the ACK of the open, if any
  send_all(agent, first, first.size());
  const auto frame = agent.take_unwritten();
  REQUIRE(frame);
  const std::vector<std::uint8_t> before(frame->begin(), frame->end());
  for (int i = 0; i < 200; ++i) send_all(agent, first, 100);  // the replay buffer's queue grows
  CHECK(std::vector<std::uint8_t>(frame->begin(), frame->end()) == before);
}

TEST_CASE("write from replay: after a cut, resume writes again every frame the peer lacks", "[session]") {
  std::mt19937_64 rng(7);
  const auto payload = random_bytes(rng, 60000, false);
  for (std::size_t delivered_frames = 0; delivered_frames <= 6; ++delivered_frames) {
    Session master(config(true)), agent(config(false));
    open_channel(master, agent);
    REQUIRE(send_all(agent, payload, 10000) == payload.size());
    // Every frame is taken (written), but only the first few reach the master.
    ByteBuffer reached;
    reached.append(agent.outgoing().view());
    agent.outgoing().clear();
    for (std::size_t i = 0; auto frame = agent.take_unwritten(); ++i) {
      if (i < delivered_frames) reached.append(*frame);
    }
    REQUIRE_FALSE(master.receive(reached.view()));
    agent.connection_lost();
    master.connection_lost();
    CHECK(agent.unwritten_bytes() == 0);
    REQUIRE_FALSE(agent.resume(master.received()));
    REQUIRE_FALSE(master.resume(agent.received()));
    CHECK(agent.unwritten_bytes() == agent.replay_bytes());
    to_agent(master, agent);
    REQUIRE_FALSE(master.receive(write_all(agent).view()));
    CHECK(stdout_of(master) == payload);
  }
}
