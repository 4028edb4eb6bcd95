// Resume scenarios: the link is cut at every byte position of a session's traffic (and
// again during the replay), the peers reconnect, and the receiver must end up with every
// frame exactly once, in order, with compressed streams decoding byte-exact.
#include <catch2/catch.hpp>

#include <random>

#include "remsh/protocol/sequence.hpp"
#include "remsh/protocol/stream_codec.hpp"
#include "test_bytes.hpp"

using namespace remsh::protocol;
using remsh::test::random_bytes;

namespace {

// The receiving peer: a decoder per connection, one sequence and one stream decoder for
// the whole session.
struct Receiver {
  ReceiveSequence sequence;
  StreamDecoder stream;
  ByteBuffer output;
  std::unique_ptr<FrameDecoder> decoder = std::make_unique<FrameDecoder>();
  int duplicates = 0;

  void reconnect() { decoder = std::make_unique<FrameDecoder>(); }

  void receive(ByteView bytes) {
    decoder->feed(bytes);
    for (;;) {
      auto r = decoder->next();
      if (std::holds_alternative<FrameDecoder::NeedMore>(r)) return;
      auto& f = std::get<FrameView>(r);
      auto verdict = sequence.accept(f.header);
      REQUIRE(std::holds_alternative<ReceiveSequence::Verdict>(verdict));
      if (std::get<ReceiveSequence::Verdict>(verdict) == ReceiveSequence::Verdict::duplicate) {
        ++duplicates;
        continue;
      }
      REQUIRE_FALSE(stream.decode(f.header.flags, f.payload, output, SIZE_MAX));
    }
  }
};

struct Session {
  std::vector<std::uint8_t> source;
  ReplayBuffer replay{1 << 30};
  StreamEncoder encoder{Codec::deflate};

  // Produces `chunks` DATA frames of text into `wire`.
  void produce(std::mt19937_64& rng, int chunks, ByteBuffer& wire, bool last) {
    for (int i = 0; i < chunks; ++i) {
      auto chunk = random_bytes(rng, 1 + rng() % 500, /*text=*/true);
      source.insert(source.end(), chunk.begin(), chunk.end());
      ByteBuffer payload;
      std::uint8_t flags = encoder.encode(chunk, payload, last && i == chunks - 1);
      replay.send({.type = FrameType::data, .flags = flags, .stream = 1, .channel = 1},
                  payload.view(), wire);
    }
  }
};

std::vector<std::uint8_t> bytes_of(const ByteBuffer& b) {
  return {b.view().begin(), b.view().end()};
}

}  // namespace

TEST_CASE("loss at every byte position resumes byte-exact", "[resume]") {
  std::mt19937_64 rng(11);
  Session probe;
  ByteBuffer probe_wire;
  probe.produce(rng, 8, probe_wire, false);
  const std::size_t total = probe_wire.size();

  for (std::size_t cut = 0; cut <= total; ++cut) {
    CAPTURE(cut);
    std::mt19937_64 r(11);
    Session s;
    Receiver rx;
    ByteBuffer wire;
    s.produce(r, 8, wire, false);
    REQUIRE(wire.size() == total);

    rx.receive(wire.view().first(cut));  // the rest is lost with the connection
    if (cut % 3 == 0) {
      // Sometimes an ACK got through before the cut.
      REQUIRE_FALSE(s.replay.acknowledge(rx.sequence.received()));
    }

    // Reconnect: the receiver says what it holds, the sender replays, then carries on.
    rx.reconnect();
    ByteBuffer again;
    REQUIRE_FALSE(s.replay.replay(rx.sequence.received(), again));
    s.produce(r, 3, again, true);
    rx.receive(again.view());

    REQUIRE(rx.stream.ended());
    REQUIRE(rx.duplicates == 0);
    REQUIRE(bytes_of(rx.output) == s.source);
  }
}

TEST_CASE("a second cut during the replay still resumes", "[resume]") {
  std::mt19937_64 rng(12);
  for (int trial = 0; trial < 200; ++trial) {
    Session s;
    Receiver rx;
    ByteBuffer wire;
    s.produce(rng, 10, wire, false);
    rx.receive(wire.view().first(rng() % (wire.size() + 1)));

    rx.reconnect();
    ByteBuffer replay1;
    REQUIRE_FALSE(s.replay.replay(rx.sequence.received(), replay1));
    rx.receive(replay1.view().first(rng() % (replay1.size() + 1)));

    rx.reconnect();
    ByteBuffer replay2;
    REQUIRE_FALSE(s.replay.replay(rx.sequence.received(), replay2));
    s.produce(rng, 1, replay2, true);
    rx.receive(replay2.view());
    REQUIRE(bytes_of(rx.output) == s.source);
  }
}

TEST_CASE("stale replay overlapping received frames is dropped as duplicates", "[resume]") {
  // A sender that replays from its last ACK instead of the peer's resume point (allowed:
  // the receiver drops duplicates) still yields every byte exactly once.
  std::mt19937_64 rng(13);
  Session s;
  Receiver rx;
  ByteBuffer wire;
  s.produce(rng, 8, wire, false);
  rx.receive(wire.view());
  REQUIRE(rx.sequence.received() == 8);
  rx.reconnect();
  ByteBuffer stale;
  REQUIRE_FALSE(s.replay.replay(0, stale));  // nothing was acked: all 8 again
  s.produce(rng, 2, stale, true);
  rx.receive(stale.view());
  REQUIRE(rx.duplicates == 8);
  REQUIRE(bytes_of(rx.output) == s.source);
}
