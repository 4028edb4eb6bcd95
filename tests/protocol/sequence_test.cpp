#include <catch2/catch.hpp>

#include "remsh/protocol/sequence.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

using namespace remsh::protocol;

namespace {
FrameHeader data_frame(std::uint32_t channel = 1) {
  return {.type = FrameType::data, .stream = 1, .channel = channel};
}
}  // namespace

TEST_CASE("replay buffer numbers frames from 1 and keeps them until acked", "[sequence]") {
  ReplayBuffer rb(1 << 20);
  ByteBuffer wire;
  REQUIRE(rb.send(data_frame(), as_bytes("a"), wire) == 1);
  REQUIRE(rb.send(data_frame(), as_bytes("bb"), wire) == 2);
  REQUIRE(rb.send(data_frame(), as_bytes("ccc"), wire) == 3);
  REQUIRE(rb.unacked_frames() == 3);
  REQUIRE(rb.unacked_bytes() == wire.size());
  REQUIRE_FALSE(rb.acknowledge(2));
  REQUIRE(rb.unacked_frames() == 1);
  REQUIRE(rb.unacked_bytes() == kFrameHeaderSize + 3);
  REQUIRE_FALSE(rb.acknowledge(1));  // an older ack is ignored
  REQUIRE(rb.unacked_frames() == 1);
  REQUIRE(rb.acknowledge(4)->tag == ErrorTag::bad_sequence);
}

TEST_CASE("replay buffer reports full at its bound (back-pressure, no drop)", "[sequence]") {
  ReplayBuffer rb(100);
  ByteBuffer wire;
  std::string payload(30, 'x');
  int sent = 0;
  while (!rb.full()) {
    rb.send(data_frame(), as_bytes(payload), wire);
    ++sent;
  }
  REQUIRE(sent == 2);  // 2 x 50 bytes on the wire
  REQUIRE_FALSE(rb.acknowledge(1));
  REQUIRE_FALSE(rb.full());
}

TEST_CASE("replay resends exactly the frames after what the peer holds", "[sequence]") {
  ReplayBuffer rb(1 << 20);
  ByteBuffer wire;
  for (int i = 0; i < 5; ++i) rb.send(data_frame(), as_bytes(std::string(1, char('a' + i))), wire);
  ByteBuffer again;
  REQUIRE_FALSE(rb.replay(3, again));
  FrameDecoder d;
  d.feed(again.view());
  auto f4 = std::get<FrameView>(d.next());
  REQUIRE(f4.header.seq == 4);
  REQUIRE(as_chars(f4.payload) == "d");
  auto f5 = std::get<FrameView>(d.next());
  REQUIRE(f5.header.seq == 5);
  REQUIRE(std::holds_alternative<FrameDecoder::NeedMore>(d.next()));
}

TEST_CASE("replay buffer: buffers of acknowledged frames are reused without leftovers", "[sequence][memory]") {
  ReplayBuffer rb(1 << 20);
  ByteBuffer wire;
  // Big frames acknowledged, then smaller ones sent into their (kept) buffers: the replay
  // must hold exactly the new frames, each once, in order.
  for (int i = 0; i < 4; ++i) rb.send(data_frame(), as_bytes(std::string(5000, char('a' + i))), wire);
  REQUIRE_FALSE(rb.acknowledge(4));
  REQUIRE(rb.unacked_bytes() == 0);
  for (int i = 0; i < 3; ++i) rb.send(data_frame(), as_bytes(std::string(1 + i, char('x' + i))), wire);
  REQUIRE(rb.unacked_bytes() == 3 * kFrameHeaderSize + 6);
  ByteBuffer again;
  REQUIRE_FALSE(rb.replay(4, again));
  REQUIRE(again.size() == 3 * kFrameHeaderSize + 6);
  FrameDecoder d;
  d.feed(again.view());
  for (int i = 0; i < 3; ++i) {
    auto f = std::get<FrameView>(d.next());
    REQUIRE(f.header.seq == std::uint64_t(5 + i));
    REQUIRE(as_chars(f.payload) == std::string(1 + i, char('x' + i)));
  }
  REQUIRE(std::holds_alternative<FrameDecoder::NeedMore>(d.next()));
}

TEST_CASE("resume from before the acknowledged point, or past the end, fails", "[sequence]") {
  ReplayBuffer rb(1 << 20);
  ByteBuffer wire, again;
  for (int i = 0; i < 5; ++i) rb.send(data_frame(), as_bytes("x"), wire);
  REQUIRE_FALSE(rb.acknowledge(3));
  REQUIRE(rb.replay(2, again)->tag == ErrorTag::resume_failed);
  REQUIRE(rb.replay(6, again)->tag == ErrorTag::resume_failed);
  REQUIRE_FALSE(rb.replay(5, again));
  REQUIRE(again.empty());
}

TEST_CASE("receive sequence verdicts", "[sequence]") {
  ReceiveSequence rs;
  auto verdict = [&](std::uint64_t seq) { return rs.accept({.type = FrameType::data, .seq = seq}); };
  REQUIRE(std::get<ReceiveSequence::Verdict>(verdict(1)) == ReceiveSequence::Verdict::deliver);
  REQUIRE(std::get<ReceiveSequence::Verdict>(verdict(2)) == ReceiveSequence::Verdict::deliver);
  REQUIRE(std::get<ReceiveSequence::Verdict>(verdict(1)) == ReceiveSequence::Verdict::duplicate);
  REQUIRE(std::get<ProtocolError>(verdict(4)).tag == ErrorTag::bad_sequence);
  REQUIRE(std::get<ProtocolError>(verdict(0)).tag == ErrorTag::bad_sequence);
  REQUIRE(rs.received() == 2);
}

TEST_CASE("acks are sent every N frames or bytes, and on demand", "[sequence]") {
  ReceiveSequence rs;
  rs.set_ack_policy(4, 1000);
  for (std::uint64_t s = 1; s <= 3; ++s) {
    REQUIRE(std::holds_alternative<ReceiveSequence::Verdict>(rs.accept({.seq = s})));
    REQUIRE_FALSE(rs.ack_due(10));
  }
  rs.accept({.seq = 4});
  REQUIRE(rs.ack_due(10) == 4u);
  rs.accept({.seq = 5});
  REQUIRE(rs.ack_due(5000) == 5u);  // byte threshold
  REQUIRE_FALSE(rs.pending());      // nothing new since
  rs.accept({.seq = 6});
  REQUIRE(rs.pending() == 6u);
}

TEST_CASE("replay buffer: shrinking keeps the unacknowledged frames", "[sequence][memory]") {
  ReplayBuffer replay(1 << 20);
  ByteBuffer out;
  std::vector<std::uint8_t> payload(100 * 1024, 0x5a);
  for (int i = 0; i < 8; ++i) {
    replay.send({.type = FrameType::data, .channel = 1}, ByteView{payload}, out);
  }
  REQUIRE(!replay.acknowledge(6));  // frames 7 and 8 stay
  const auto kept = replay.unacked_bytes();
  replay.shrink_to_fit();
  CHECK(replay.unacked_bytes() == kept);
  ByteBuffer again;
  REQUIRE(!replay.replay(6, again));
  CHECK(again.size() == kept);
  // What comes back is frames 7 and 8 exactly as first sent.
  CHECK(std::equal(again.data(), again.data() + again.size(), out.data() + out.size() - kept));
}

TEST_CASE("byte buffer: shrink_to_fit keeps the live bytes", "[sequence][memory]") {
  ByteBuffer b;
  b.append(std::string_view("dead prefix|live"));
  b.consume(12);
  b.shrink_to_fit();
  CHECK(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()) == "live");
  b.append(std::string_view("+more"));
  CHECK(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()) == "live+more");
  b.consume(b.size());
  b.shrink_to_fit();
  CHECK(b.empty());
}
