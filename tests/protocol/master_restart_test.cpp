// A master that acknowledges only what it stored, crashes, and takes the session up again
// from what it stored (docs/protocol.md 7.4): every byte the agent's command wrote arrives
// exactly once, through compressed streams that continue across the restart.
#include <catch2/catch.hpp>

#include <random>

#include "remsh/protocol/session.hpp"
#include "test_bytes.hpp"

using namespace remsh::protocol;

namespace {

SessionConfig config(bool master) {
  SessionConfig c;
  c.is_master = master;
  c.local.window = kMinWindow;
  c.remote.window = kMinWindow;
  c.codecs = {Codec::deflate};
  c.ack_only_committed = master;
  return c;
}

boost::json::object exec_open() {
  ExecRequest r;
  r.argv = {"true"};
  return r.to_json();
}

void pump(Session& from, Session& to) {
  ByteBuffer& out = from.outgoing();
  if (out.empty()) return;
  if (auto e = to.receive(out.view())) FAIL(e->describe());
  out.clear();
}

// What the master stores of a channel's output: the payloads as they arrived.
struct Stored {
  std::vector<std::pair<std::uint8_t, std::vector<std::uint8_t>>> frames;  // codec, payload
  std::vector<std::uint8_t> bytes;
};

// Takes the channel's output; returns how many bytes to grant once they are committed (a
// master grants credit only for what it stored).
std::size_t take_output(Session& master, Stored* stored, std::vector<std::uint8_t>& out) {
  std::size_t n = 0;
  while (auto e = master.poll()) {
    if (auto* d = std::get_if<ChannelData>(&*e); d && d->channel == 1) {
      out.insert(out.end(), d->bytes.begin(), d->bytes.end());
      if (stored) {
        stored->bytes.insert(stored->bytes.end(), d->bytes.begin(), d->bytes.end());
        stored->frames.push_back({static_cast<std::uint8_t>(d->codec), d->codec == Codec::none ? d->bytes : d->wire});
      }
      n += d->bytes.size();
    }
  }
  return n;
}

void commit(Session& master, std::size_t stored_bytes) {
  master.committed();
  if (stored_bytes) master.consumed(1, stored_bytes);
}

std::vector<std::uint8_t> text(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> out;
  while (out.size() < n) {
    const std::string line = "step " + std::to_string(rng() % 1000) + ": compiling module " + std::to_string(rng() % 50) + "\n";
    out.insert(out.end(), line.begin(), line.end());
  }
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("restart: no ACK covers a frame before it is committed", "[session][restart]") {
  Session master(config(true)), agent(config(false));
  master.open_channel(exec_open());
  pump(master, agent);
  while (agent.poll()) {
  }
  const auto data = text(60000, 1);  // within the window
  std::size_t sent = 0;
  for (int i = 0; i < 1000 && sent < data.size(); ++i) {
    sent += agent.send_data(1, 1, ByteView{data}.subspan(sent, std::min<std::size_t>(100, data.size() - sent)));
  }
  REQUIRE(sent == data.size());
  pump(agent, master);  // 600 frames: ACKs would be due several times over
  master.flush_ack();   // and the idle timer asks too
  pump(master, agent);
  REQUIRE(agent.replay_bytes() > 0);  // nothing acknowledged yet
  while (master.poll()) {
  }
  master.committed();
  master.flush_ack();
  pump(master, agent);
  REQUIRE(agent.replay_bytes() == 0);
}

TEST_CASE("restart: a new master process takes the session up from what was stored", "[session][restart]") {
  const auto data = text(600000, 2);
  for (std::size_t cut : {std::size_t{0}, std::size_t{5000}, std::size_t{77777}, std::size_t{150000}}) {
    CAPTURE(cut);
    auto old_master = std::make_unique<Session>(config(true));
    Session agent(config(false));
    old_master->open_channel(exec_open());  // 1: taken up again
    old_master->open_channel(exec_open());  // 3: not taken up (its client is gone)
    pump(*old_master, agent);
    while (agent.poll()) {
    }

    // The agent's command writes; the old master stores what it gets up to `cut` bytes of
    // the wire and commits that, then receives some more and dies before committing it.
    std::size_t sent = 0;
    auto produce = [&](std::size_t upto) {
      while (sent < upto) {
        const std::size_t n = agent.send_data(1, 1, ByteView{data}.subspan(sent, std::min<std::size_t>(4000, upto - sent)));
        if (n == 0) break;
        sent += n;
      }
    };
    produce(data.size() / 2);
    agent.send_data(3, 1, as_bytes(std::string("history")));
    Stored stored;
    std::vector<std::uint8_t> live;
    ByteBuffer& wire = agent.outgoing();
    const std::size_t first = std::min(cut, wire.size());
    REQUIRE_FALSE(old_master->receive(wire.view().first(first)));
    commit(*old_master, take_output(*old_master, &stored, live));
    const std::uint64_t position = old_master->received();
    REQUIRE_FALSE(old_master->receive(wire.view().subspan(first, (wire.size() - first) / 2)));  // lost with the process
    old_master->flush_ack();
    pump(*old_master, agent);  // ACKs (never beyond `position`) and grants reach the agent
    wire.clear();
    old_master.reset();

    // The new process: the stored position and frames, the agent's resume request.
    agent.connection_lost();
    Session master(config(true));
    master.restore({position, agent.received(), agent.last_sent()});
    master.restore_channel(1);
    for (const auto& [codec, payload] : stored.frames) {
      if (codec != 0) REQUIRE_FALSE(master.restore_stream(1, 1, codec, ByteView{payload}));
    }
    // While the agent's replay may still name old ids, no channel opens.
    if (position < agent.last_sent()) REQUIRE_FALSE(master.open_channel(exec_open()));
    agent.forget_channel(3);  // welcome.channels = [1]
    REQUIRE_FALSE(agent.resume(position));
    master.grant(1, kMinWindow);

    std::vector<std::uint8_t> after;
    for (int round = 0; round < 400 && sent < data.size(); ++round) {
      pump(agent, master);
      commit(master, take_output(master, nullptr, after));
      master.flush_ack();
      pump(master, agent);
      while (agent.poll()) {
      }
      produce(data.size());
    }
    agent.send_data(1, 1, {}, true);
    for (int round = 0; round < 8; ++round) {
      pump(agent, master);
      commit(master, take_output(master, nullptr, after));
      pump(master, agent);
    }
    REQUIRE(sent == data.size());
    std::vector<std::uint8_t> all = stored.bytes;
    all.insert(all.end(), after.begin(), after.end());
    REQUIRE(all == data);
    // Once the replay is in, new channels open again, and none is the history's id.
    auto id = master.open_channel(exec_open());
    REQUIRE(id);
    pump(master, agent);
  }
}

TEST_CASE("restart: a channel whose command ended while the master was away leaves its id free", "[session][restart]") {
  auto old_master = std::make_unique<Session>(config(true));
  Session agent(config(false));
  REQUIRE(old_master->open_channel(exec_open()) == 1u);
  pump(*old_master, agent);
  while (agent.poll()) {
  }
  old_master.reset();  // the master stops; nothing of the agent's was stored
  // The command ends meanwhile: its result and close wait in the replay buffer, and the
  // channel waits for the master's close, which a restarted master never sends.
  agent.send_control(1, ExecResult{.reason = "exited", .exit_code = 0}.to_json());
  agent.close_channel(1);
  REQUIRE(agent.open_channels() == 1);

  agent.connection_lost();
  Session master(config(true));
  master.restore({0, agent.received(), agent.last_sent()});
  REQUIRE(agent.forget_channels_except({}) == 1);  // welcome.channels = []
  REQUIRE(agent.open_channels() == 0);
  REQUIRE_FALSE(agent.resume(0));
  pump(agent, master);  // the replay: history the master drops
  while (master.poll()) {
  }
  master.committed();
  // The restarted master numbers its channels from the start again: the agent takes the open.
  auto id = master.open_channel(exec_open());
  REQUIRE(id == 1u);
  pump(master, agent);
  bool opened = false;
  while (auto e = agent.poll()) {
    if (auto* m = std::get_if<ChannelMessage>(&*e); m && m->channel == 1 && m->message.type == "open") opened = true;
  }
  REQUIRE(opened);
}
