#include <catch2/catch.hpp>

#include <random>

#include "remsh/protocol/frame.hpp"
#include "remsh/protocol/limits.hpp"
#include "test_bytes.hpp"

using namespace remsh::protocol;
using remsh::test::random_bytes;

namespace {

struct Decoded {
  FrameHeader header;
  std::vector<std::uint8_t> payload;
};

// Feeds `wire` to a decoder in the given piece sizes and collects every frame.
std::vector<Decoded> decode_in_pieces(ByteView wire, const std::vector<std::size_t>& cuts,
                                      std::optional<ProtocolError>* error = nullptr) {
  FrameDecoder d(kMaxFramePayload);
  std::vector<Decoded> out;
  std::size_t pos = 0;
  auto drain = [&] {
    for (;;) {
      auto r = d.next();
      if (auto* f = std::get_if<FrameView>(&r)) {
        out.push_back({f->header, {f->payload.begin(), f->payload.end()}});
      } else if (auto* e = std::get_if<ProtocolError>(&r)) {
        if (error) *error = *e;
        return false;
      } else {
        return true;
      }
    }
  };
  for (std::size_t cut : cuts) {
    std::size_t n = std::min(cut, wire.size() - pos);
    d.feed(wire.subspan(pos, n));
    pos += n;
    if (!drain()) return out;
  }
  d.feed(wire.subspan(pos));
  drain();
  return out;
}

}  // namespace

TEST_CASE("frame header layout is big-endian, 20 bytes", "[frame]") {
  ByteBuffer out;
  append_frame(out, {.type = FrameType::data, .flags = 0x05, .stream = 2, .channel = 0x01020304,
                     .seq = 0x0A0B0C0D0E0F1011},
               as_bytes("hi"));
  const std::uint8_t want[] = {0, 0, 0, 2, 2, 5, 2, 0, 1, 2, 3, 4,
                               0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 'h', 'i'};
  REQUIRE(out.size() == sizeof want);
  REQUIRE(std::equal(out.view().begin(), out.view().end(), want));
}

TEST_CASE("frames round-trip when the stream is split at every byte", "[frame]") {
  ByteBuffer wire;
  append_frame(wire, {.type = FrameType::control}, as_bytes(R"({"type":"close"})"));
  append_frame(wire, {.type = FrameType::data, .flags = frame_flags::end_of_stream,
                      .stream = 1, .channel = 3, .seq = 1}, as_bytes("abc"));
  append_window(wire, 3, 2, 4096);
  append_ack(wire, 2);
  append_ping(wire, FrameType::ping, 99);
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    std::vector<std::size_t> cuts(wire.size() / step + 1, step);
    auto frames = decode_in_pieces(wire.view(), cuts);
    REQUIRE(frames.size() == 5);
    REQUIRE(frames[1].header.stream == 1);
    REQUIRE(frames[1].header.end_of_stream());
    REQUIRE(std::string(frames[1].payload.begin(), frames[1].payload.end()) == "abc");
    REQUIRE(load_u32(frames[2].payload.data()) == 4096);
    REQUIRE(load_u64(frames[3].payload.data()) == 2);
    REQUIRE(frames[4].header.type == FrameType::ping);
  }
}

TEST_CASE("randomized round trips with random split points", "[frame]") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    ByteBuffer wire;
    std::vector<Decoded> sent;
    std::uniform_int_distribution<std::size_t> len(0, 70000);
    std::uniform_int_distribution<std::uint32_t> chan(1, 1000);
    int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      auto payload = random_bytes(rng, len(rng));
      FrameHeader h{.type = FrameType::data, .flags = payload.empty() ? frame_flags::end_of_stream
                                                                     : std::uint8_t{0},
                    .stream = static_cast<std::uint8_t>(rng() % 256), .channel = chan(rng),
                    .seq = static_cast<std::uint64_t>(i + 1)};
      append_frame(wire, h, payload);
      h.length = static_cast<std::uint32_t>(payload.size());
      sent.push_back({h, payload});
    }
    std::vector<std::size_t> cuts;
    for (std::size_t total = 0; total < wire.size();) {
      std::size_t c = 1 + rng() % 9000;
      cuts.push_back(c);
      total += c;
    }
    auto got = decode_in_pieces(wire.view(), cuts);
    REQUIRE(got.size() == sent.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      REQUIRE(got[i].header.length == sent[i].header.length);
      REQUIRE(got[i].header.channel == sent[i].header.channel);
      REQUIRE(got[i].header.stream == sent[i].header.stream);
      REQUIRE(got[i].header.seq == sent[i].header.seq);
      REQUIRE(got[i].payload == sent[i].payload);
    }
  }
}

TEST_CASE("an oversized length is refused from the header alone", "[frame][limits]") {
  FrameDecoder d(65536);
  std::uint8_t raw[kFrameHeaderSize];
  encode_header({.length = 65537, .type = FrameType::data, .stream = 1, .channel = 1, .seq = 1},
                raw);
  d.feed(ByteView{raw, sizeof raw});
  auto r = d.next();
  REQUIRE(std::get<ProtocolError>(r).tag == ErrorTag::frame_too_large);
  // The decoder stays failed.
  d.feed(as_bytes("more"));
  REQUIRE(std::holds_alternative<ProtocolError>(d.next()));
}

TEST_CASE("decoder never buffers more than one frame beyond what it was fed", "[frame][limits]") {
  FrameDecoder d(65536);
  ByteBuffer wire;
  std::vector<std::uint8_t> payload(65536, 7);
  append_frame(wire, {.type = FrameType::data, .stream = 1, .channel = 1, .seq = 1}, payload);
  d.feed(wire.view().first(wire.size() - 1));
  REQUIRE(std::holds_alternative<FrameDecoder::NeedMore>(d.next()));
  REQUIRE(d.buffered() == wire.size() - 1);
  d.feed(wire.view().last(1));
  REQUIRE(std::holds_alternative<FrameView>(d.next()));
  REQUIRE(std::holds_alternative<FrameDecoder::NeedMore>(d.next()));
  REQUIRE(d.buffered() == 0);
}

TEST_CASE("header validation rules", "[frame]") {
  auto check = [](FrameHeader h, std::uint8_t reserved = 0) {
    return validate_header(h, reserved, 65536);
  };
  REQUIRE_FALSE(check({.length = 8, .type = FrameType::ack}));
  REQUIRE(check({.length = 8, .type = FrameType::ack}, 1)->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 8, .type = FrameType::ack, .channel = 1})->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 8, .type = FrameType::ping, .seq = 3})->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 7, .type = FrameType::pong})->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 4, .type = FrameType::window, .channel = 0})->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 5, .type = FrameType::window, .channel = 1})->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 2, .type = FrameType::control, .flags = 1})->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 0, .type = FrameType::control})->tag == ErrorTag::bad_frame);
  REQUIRE(check({.length = 65537, .type = FrameType::control})->tag == ErrorTag::frame_too_large);
  REQUIRE(check({.length = 65536, .type = FrameType::control}) == std::nullopt);
  REQUIRE(check({.length = 1, .type = FrameType::data, .flags = 3, .channel = 1})->tag ==
          ErrorTag::bad_frame);
  REQUIRE(check({.length = 1, .type = FrameType::data, .flags = 0x10, .channel = 1})->tag ==
          ErrorTag::bad_frame);
  REQUIRE(check({.length = 0, .type = FrameType::data, .channel = 1})->tag == ErrorTag::bad_frame);
  REQUIRE_FALSE(check({.length = 0, .type = FrameType::data, .flags = 4, .channel = 1}));
  REQUIRE(check({.length = 1, .type = static_cast<FrameType>(9)})->tag == ErrorTag::bad_frame);
}
