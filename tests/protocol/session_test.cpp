// Two Session objects, master and agent, wired back to back in memory.
#include <catch2/catch.hpp>

#include <random>

#include "remsh/protocol/session.hpp"
#include "test_bytes.hpp"

using namespace remsh::protocol;
using remsh::test::random_bytes;

namespace {

SessionConfig config(bool master, std::uint32_t window = kMinWindow) {
  SessionConfig c;
  c.is_master = master;
  c.local.window = window;
  c.remote.window = window;
  c.local.max_channels = 4;
  c.remote.max_channels = 4;
  c.codecs = {Codec::deflate};
  return c;
}

// Moves everything one side has to send into the other.
void pump(Session& from, Session& to) {
  ByteBuffer& out = from.outgoing();
  if (out.empty()) return;
  auto e = to.receive(out.view());
  if (e) FAIL(e->describe());
  out.clear();
}

void pump_both(Session& a, Session& b) {
  for (int i = 0; i < 8; ++i) {
    pump(a, b);
    pump(b, a);
  }
}

std::vector<SessionEvent> drain(Session& s) {
  std::vector<SessionEvent> out;
  while (auto e = s.poll()) out.push_back(std::move(*e));
  return out;
}

template <typename T>
std::vector<T> only(const std::vector<SessionEvent>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (auto* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

boost::json::object exec_open() {
  ExecRequest r;
  r.argv = {"true"};
  return r.to_json();
}

}  // namespace

TEST_CASE("session: open then data both ways then result and close free the channel", "[session]") {
  Session master(config(true)), agent(config(false));
  auto id = master.open_channel(exec_open());
  REQUIRE(id == 1u);
  pump_both(master, agent);
  auto ev = drain(agent);
  REQUIRE(only<ChannelMessage>(ev).size() == 1);
  REQUIRE(only<ChannelMessage>(ev)[0].message.type == "open");

  REQUIRE(master.send_data(1, stream_id::stdin_, as_bytes("input"), true) == 5);
  pump_both(master, agent);
  REQUIRE(agent.send_data(1, stream_id::stdout_, as_bytes(std::string(3000, 'o')), true) == 3000);
  agent.send_control(1, ExecResult{.reason = "exited", .exit_code = 0}.to_json());
  agent.close_channel(1);
  pump_both(master, agent);

  auto in = only<ChannelData>(drain(agent));
  REQUIRE(in.size() == 1);
  REQUIRE(std::string(in[0].bytes.begin(), in[0].bytes.end()) == "input");
  REQUIRE(in[0].end_of_stream);

  auto mev = drain(master);
  auto out = only<ChannelData>(mev);
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].bytes.size() == 3000);
  auto msgs = only<ChannelMessage>(mev);
  REQUIRE(msgs.size() == 2);
  REQUIRE(msgs[0].message.type == "result");
  REQUIRE(msgs[1].message.type == "close");
  master.close_channel(1);
  REQUIRE(only<ChannelClosed>(drain(master)).size() == 1);
  pump_both(master, agent);
  REQUIRE(only<ChannelClosed>(drain(agent)).size() == 1);
  REQUIRE(master.open_channels() == 0);
  REQUIRE(agent.open_channels() == 0);
}

TEST_CASE("session: a slow consumer stops the producer, consuming resumes it", "[session]") {
  Session master(config(true)), agent(config(false));
  master.open_channel(exec_open());
  pump_both(master, agent);
  drain(agent);
  std::mt19937_64 rng(5);
  auto big = random_bytes(rng, 1 << 20);
  std::size_t sent = 0;
  while (sent < big.size()) {
    std::size_t n = agent.send_data(1, 1, ByteView{big}.subspan(sent));
    if (n == 0) break;
    sent += n;
  }
  REQUIRE(sent == kMinWindow);  // the whole window, not a byte more
  pump_both(master, agent);
  std::vector<std::uint8_t> got;
  for (auto& d : only<ChannelData>(drain(master))) got.insert(got.end(), d.bytes.begin(), d.bytes.end());
  REQUIRE(got.size() == kMinWindow);
  REQUIRE(agent.send_data(1, 1, ByteView{big}.subspan(sent)) == 0);  // still no credit
  master.consumed(1, got.size());
  pump_both(master, agent);
  REQUIRE(only<ChannelCredit>(drain(agent)).size() == 1);
  REQUIRE(agent.credit(1) == kMinWindow);
}

TEST_CASE("session: data beyond credit is a flow-control connection error", "[session]") {
  Session agent(config(false));
  Session master(config(true));
  master.open_channel(exec_open());
  pump_both(master, agent);
  // Forge a DATA frame larger than the window the master granted.
  ByteBuffer wire;
  std::vector<std::uint8_t> payload(kMinWindow + 1, 'x');
  ReplayBuffer forged(1 << 30);
  // Advance to the agent's next seq (it sent nothing yet: 1).
  forged.send({.type = FrameType::data, .stream = 1, .channel = 1}, payload, wire);
  auto e = master.receive(wire.view());
  REQUIRE(e);
  REQUIRE(e->tag == ErrorTag::flow_control);
}

TEST_CASE("session: frames for unknown channels end the connection", "[session]") {
  Session agent(config(false));
  ByteBuffer wire;
  ReplayBuffer peer(1 << 20);
  peer.send({.type = FrameType::data, .stream = 0, .channel = 7}, as_bytes("x"), wire);
  REQUIRE(agent.receive(wire.view())->tag == ErrorTag::bad_channel);
}

TEST_CASE("session: an agent may not open channels in version 1", "[session]") {
  Session master(config(true));
  ByteBuffer wire;
  ReplayBuffer peer(1 << 20);
  std::string open = serialize(exec_open());
  peer.send({.type = FrameType::control, .channel = 2}, as_bytes(open), wire);
  REQUIRE(master.receive(wire.view())->tag == ErrorTag::bad_channel);
}

TEST_CASE("session: too many channels is limit-exceeded", "[session]") {
  Session agent(config(false));
  ByteBuffer wire;
  ReplayBuffer peer(1 << 20);
  std::string open = serialize(exec_open());
  for (std::uint32_t id = 1; id <= 9; id += 2) {
    peer.send({.type = FrameType::control, .channel = id}, as_bytes(open), wire);
  }
  REQUIRE(agent.receive(wire.view())->tag == ErrorTag::limit_exceeded);
}

TEST_CASE("session: a bad message fails only its channel", "[session]") {
  Session master(config(true)), agent(config(false));
  master.open_channel(exec_open());
  master.open_channel(exec_open());
  pump_both(master, agent);
  drain(agent);
  master.send_control(1, boost::json::object{{"type", "resize"}, {"cols", 0}, {"rows", 1}});
  pump_both(master, agent);
  auto failed = only<ChannelFailed>(drain(agent));
  REQUIRE(failed.size() == 1);
  REQUIRE(failed[0].channel == 1);
  REQUIRE(failed[0].error.tag == ErrorTag::bad_message);
  // The master got error + close on channel 1; channel 3 still works.
  auto mev = drain(master);
  auto msgs = only<ChannelMessage>(mev);
  REQUIRE(msgs.size() == 2);
  REQUIRE(msgs[0].message.type == "error");
  REQUIRE(msgs[1].message.type == "close");
  REQUIRE(agent.send_data(3, 1, as_bytes("still fine")) == 10);
  pump_both(master, agent);
  REQUIRE(only<ChannelData>(drain(master)).size() == 1);
}

TEST_CASE("session: pings are answered and acks free the replay buffer", "[session]") {
  Session master(config(true)), agent(config(false));
  master.open_channel(exec_open());
  master.send_ping(42);
  pump(master, agent);
  REQUIRE(master.replay_bytes() > 0);
  agent.flush_ack();
  pump(agent, master);  // PONG + ACK
  REQUIRE(master.replay_bytes() == 0);
}

TEST_CASE("session: resume after a cut at every point delivers everything once", "[session]") {
  std::mt19937_64 rng(9);
  auto payload = random_bytes(rng, 40000, true);
  for (std::size_t cut = 0; cut < 2000; cut += 7) {
    Session master(config(true)), agent(config(false));
    master.open_channel(exec_open());
    pump_both(master, agent);
    drain(agent);
    std::size_t sent = 0;
    while (sent < payload.size()) sent += agent.send_data(1, 1, ByteView{payload}.subspan(sent, std::min<std::size_t>(3000, payload.size() - sent)), false);
    agent.send_data(1, 1, ByteView{}, true);
    // Only `cut` bytes of the agent's output reach the master.
    ByteBuffer& out = agent.outgoing();
    std::size_t n = std::min(cut, out.size());
    REQUIRE_FALSE(master.receive(out.view().first(n)));
    agent.connection_lost();
    master.connection_lost();
    REQUIRE_FALSE(agent.resume(master.received()));
    REQUIRE_FALSE(master.resume(agent.received()));
    pump_both(master, agent);
    std::vector<std::uint8_t> got;
    bool ended = false;
    for (auto& d : only<ChannelData>(drain(master))) {
      got.insert(got.end(), d.bytes.begin(), d.bytes.end());
      ended = ended || d.end_of_stream;
    }
    REQUIRE(got == payload);
    REQUIRE(ended);
  }
}

TEST_CASE("session: output produced while the link is down waits in the replay buffer alone", "[session]") {
  Session master(config(true)), agent(config(false));
  master.open_channel(exec_open());
  pump_both(master, agent);
  drain(agent);
  agent.connection_lost();
  master.connection_lost();
  const std::string text = "produced during the outage";
  REQUIRE(agent.send_data(1, 1, as_bytes(text), true) == text.size());
  CHECK(agent.outgoing().empty());  // a copy there would only be thrown away by resume()
  CHECK(agent.replay_bytes() > 0);
  REQUIRE_FALSE(agent.resume(master.received()));
  REQUIRE_FALSE(master.resume(agent.received()));
  CHECK_FALSE(agent.outgoing().empty());
  pump_both(master, agent);
  auto data = only<ChannelData>(drain(master));
  REQUIRE(data.size() == 1);
  CHECK(std::string(data[0].bytes.begin(), data[0].bytes.end()) == text);
  CHECK(data[0].end_of_stream);
}

TEST_CASE("session: status reaches a master that announced it and nobody else", "[session]") {
  SessionConfig mc = config(true), ac = config(false);
  mc.local.status = true;
  ac.remote.status = true;
  Session master(mc), agent(ac);
  agent.send_control(0, Status{true, "owner asked"}.to_json());
  pump(agent, master);
  auto messages = only<ConnectionMessage>(drain(master));
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].message.type == "status");

  Session plain_master(config(true)), plain_agent(config(false));
  plain_agent.send_control(0, Status{true, "owner asked"}.to_json());
  auto e = plain_master.receive(plain_agent.outgoing().view());
  REQUIRE(e);
  CHECK(e->tag == ErrorTag::unknown_message);
}

TEST_CASE("session: an unsequenced error on channel 0 is read after the welcome", "[session]") {
  Session agent(config(false));
  ByteBuffer wire;
  const std::string text = serialize(ErrorMessage{"auth-failed", "revoked"}.to_json());
  append_frame(wire, {.type = FrameType::control}, as_bytes(text));
  REQUIRE_FALSE(agent.receive(wire.view()));
  auto messages = only<ConnectionMessage>(drain(agent));
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].message.type == "error");
  // Anything else unsequenced is still a sequence error.
  ByteBuffer other;
  append_frame(other, {.type = FrameType::control}, as_bytes(serialize(Goodbye{"bye"}.to_json())));
  auto e = agent.receive(other.view());
  REQUIRE(e);
  CHECK(e->tag == ErrorTag::bad_sequence);
}

TEST_CASE("session: incompressible data compressed with deflate stays within the peer's max_frame", "[session]") {
  // Deflate can expand random bytes by a few dozen bytes per 64 KiB: chunks must leave room
  // for that below the peer's max_frame, or the sender can neither compress nor send them.
  std::mt19937_64 rng(7);
  for (const std::uint32_t max_frame : {65536u, 262144u}) {
    SessionConfig m = config(true, 8u << 20), a = config(false, 8u << 20);
    m.remote.max_frame = max_frame;
    a.local.max_frame = max_frame;
    Session master(m), agent(a);
    REQUIRE(master.open_channel(exec_open()) == 1u);
    pump_both(master, agent);
    drain(agent);
    const std::vector<std::uint8_t> data = random_bytes(rng, 3u << 20);
    std::size_t sent = 0;
    for (int rounds = 0; sent < data.size() && rounds < 10000; ++rounds) {
      const std::size_t n = master.send_data(1, stream_id::stdin_, ByteView(data).subspan(sent), true);
      REQUIRE(n > 0);  // credit is plenty: a refusal here would stall a transfer for ever
      sent += n;
      pump(master, agent);  // fails the test on frame-too-large
    }
    std::size_t received = 0;
    for (const auto& d : only<ChannelData>(drain(agent))) received += d.bytes.size();
    CHECK(received == data.size());
  }
}

TEST_CASE("session: a master that acknowledges only what it stored acknowledges each commit in full", "[session]") {
  // Frames just under the 1 MiB ACK threshold, and an ACK limited to what was stored when
  // the threshold was crossed: the rest must still be acknowledged once it is stored, or a
  // sender whose replay buffer is full waits for the one-second idle ACK.
  SessionConfig mc = config(true, 4u << 20);
  mc.ack_only_committed = true;
  SessionConfig ac = config(false, 4u << 20);
  ac.local.max_frame = ac.remote.max_frame = 1u << 20;
  mc.local.max_frame = mc.remote.max_frame = 1u << 20;
  Session master(mc), agent(ac);
  master.open_channel(exec_open());
  pump(master, agent);
  drain(agent);
  std::mt19937_64 rng(11);
  const auto chunk = random_bytes(rng, 1000000, false);
  auto send_frame = [&] {
    REQUIRE(agent.send_data(1, 1, chunk) == chunk.size());
    pump(agent, master);
    drain(master);
  };
  send_frame();
  master.committed();  // frame 1 stored; less than 1 MiB since the last ACK: none yet
  send_frame();        // crosses 1 MiB: an ACK, but only of what is stored (frame 1)
  master.committed();  // frame 2 stored
  pump(master, agent);
  CHECK(agent.replay_bytes() == 0);
}
