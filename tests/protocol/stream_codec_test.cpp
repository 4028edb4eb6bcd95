#include <catch2/catch.hpp>

#include <random>

#include "remsh/protocol/stream_codec.hpp"
#include "test_bytes.hpp"

using namespace remsh::protocol;
using remsh::test::random_bytes;

namespace {

std::vector<std::uint8_t> bytes_of(const ByteBuffer& b) {
  return {b.view().begin(), b.view().end()};
}

}  // namespace

TEST_CASE("codec names", "[codec]") {
  for (Codec c : {Codec::none, Codec::deflate, Codec::zstd}) {
    REQUIRE(codec_from_name(codec_name(c)) == c);
  }
  REQUIRE_FALSE(codec_from_name("brotli"));
}

TEST_CASE("each compressed frame decodes completely on arrival", "[codec]") {
  // Live output must stay live: the receiver gets every byte of a frame from that frame,
  // without waiting for the next one.
  auto codec = GENERATE(Codec::deflate, Codec::zstd);
  CAPTURE(codec_name(codec));
  std::mt19937_64 rng(1);
  auto c = StreamCompressor::create(codec);
  auto d = StreamDecompressor::create(codec);
  for (int i = 0; i < 200; ++i) {
    auto chunk = random_bytes(rng, 1 + rng() % 5000, /*text=*/true);
    ByteBuffer wire, plain;
    c->compress(chunk, wire);
    REQUIRE_FALSE(d->decompress(wire.view(), plain, SIZE_MAX));
    REQUIRE(bytes_of(plain) == chunk);
  }
}

TEST_CASE("compressed streams decode across arbitrary frame boundaries", "[codec]") {
  // A compressed stream may be cut into DATA frames anywhere, not only at flush points.
  auto codec = GENERATE(Codec::deflate, Codec::zstd);
  std::mt19937_64 rng(2);
  auto c = StreamCompressor::create(codec);
  std::vector<std::uint8_t> source;
  ByteBuffer wire;
  for (int i = 0; i < 50; ++i) {
    auto chunk = random_bytes(rng, rng() % 20000, true);
    source.insert(source.end(), chunk.begin(), chunk.end());
    c->compress(chunk, wire, /*independent=*/i % 10 == 9);
  }
  auto d = StreamDecompressor::create(codec);
  ByteBuffer plain;
  ByteView rest = wire.view();
  while (!rest.empty()) {
    std::size_t n = std::min<std::size_t>(rest.size(), 1 + rng() % 3000);
    REQUIRE_FALSE(d->decompress(rest.first(n), plain, SIZE_MAX));
    rest = rest.subspan(n);
  }
  REQUIRE(bytes_of(plain) == source);
}

TEST_CASE("decompression stops at the credit limit (bomb)", "[codec][limits]") {
  auto codec = GENERATE(Codec::deflate, Codec::zstd);
  auto c = StreamCompressor::create(codec, 9);
  std::vector<std::uint8_t> zeros(4 << 20, 0);
  ByteBuffer wire, plain;
  c->compress(zeros, wire);
  REQUIRE(wire.size() < 10000);
  auto d = StreamDecompressor::create(codec);
  auto e = d->decompress(wire.view(), plain, 65536);
  REQUIRE(e);
  REQUIRE(e->tag == ErrorTag::flow_control);
  REQUIRE(plain.size() <= 65536 + 1);
  // Exactly the limit is fine.
  auto d2 = StreamDecompressor::create(codec);
  ByteBuffer plain2;
  REQUIRE_FALSE(d2->decompress(wire.view(), plain2, zeros.size()));
  REQUIRE(plain2.size() == zeros.size());
}

TEST_CASE("corrupt compressed data is a codec-error", "[codec]") {
  auto codec = GENERATE(Codec::deflate, Codec::zstd);
  std::mt19937_64 rng(3);
  auto d = StreamDecompressor::create(codec);
  ByteBuffer plain;
  auto junk = random_bytes(rng, 4096);
  junk[0] = 0xFF;  // deflate: invalid block type 3; zstd: not a magic number
  junk[1] = 0xFF;
  junk[2] = 0xFF;
  junk[3] = 0xFF;
  auto e = d->decompress(junk, plain, SIZE_MAX);
  REQUIRE(e);
  REQUIRE(e->tag == ErrorTag::codec_error);
}

TEST_CASE("stream encoder sends incompressible data raw, text compressed", "[codec]") {
  std::mt19937_64 rng(4);
  StreamEncoder enc(Codec::deflate);
  StreamDecoder dec;
  std::vector<std::uint8_t> all;
  ByteBuffer out;
  int raw_frames = 0, compressed_frames = 0;
  for (int i = 0; i < 60; ++i) {
    bool text = i >= 20;
    auto chunk = random_bytes(rng, 16384, text);
    all.insert(all.end(), chunk.begin(), chunk.end());
    ByteBuffer payload;
    std::uint8_t flags = enc.encode(chunk, payload, i == 59);
    ((flags & frame_flags::codec_mask) == 0 ? raw_frames : compressed_frames)++;
    REQUIRE_FALSE(dec.decode(flags, payload.view(), out, SIZE_MAX));
  }
  REQUIRE(dec.ended());
  REQUIRE(bytes_of(out) == all);
  REQUIRE(raw_frames >= 15);         // random bytes back off to raw
  REQUIRE(compressed_frames >= 20);  // text gets compressed again after the back-off
  REQUIRE(enc.bytes_out() < enc.bytes_in());
}

TEST_CASE("stream encoder: small tails of split reads do not switch text to raw", "[codec]") {
  // A 256 KiB read goes out as a frame-sized chunk plus a 64-byte tail; the tail barely
  // compresses, which says nothing about the stream.
  std::mt19937_64 rng(5);
  for (auto codec : {Codec::deflate, Codec::zstd}) {
    StreamEncoder enc(codec);
    int raw_frames = 0;
    for (int i = 0; i < 20; ++i) {
      auto big = random_bytes(rng, 65536, /*text=*/true);
      auto tail = random_bytes(rng, 64, /*text=*/false);  // whatever the tail, it is tiny
      for (const auto* chunk : {&big, &tail}) {
        ByteBuffer payload;
        if ((enc.encode(*chunk, payload) & frame_flags::codec_mask) == 0) ++raw_frames;
      }
    }
    CHECK(raw_frames == 0);
  }
}

TEST_CASE("stream decoder enforces one codec, end-of-stream and limits", "[codec]") {
  StreamEncoder deflate(Codec::deflate);
  StreamEncoder zstd(Codec::zstd);
  std::string text(1000, 'a');
  ByteBuffer p1, p2, out;
  auto f1 = deflate.encode(as_bytes(text), p1);
  auto f2 = zstd.encode(as_bytes(text), p2);
  StreamDecoder dec;
  REQUIRE_FALSE(dec.decode(f1, p1.view(), out, SIZE_MAX));
  REQUIRE(dec.decode(f2, p2.view(), out, SIZE_MAX)->tag == ErrorTag::codec_error);

  StreamDecoder ended;
  REQUIRE_FALSE(ended.decode(frame_flags::end_of_stream, as_bytes("x"), out, SIZE_MAX));
  REQUIRE(ended.decode(0, as_bytes("y"), out, SIZE_MAX)->tag == ErrorTag::bad_channel);

  StreamDecoder limited;
  REQUIRE(limited.decode(0, as_bytes("12345"), out, 4)->tag == ErrorTag::flow_control);
}

TEST_CASE("stream decoder views a raw frame in place and decodes a compressed one", "[codec]") {
  std::string text(5000, 'b');
  StreamEncoder zstd(Codec::zstd);
  ByteBuffer compressed, scratch;
  const auto flags = zstd.encode(as_bytes(text), compressed);
  REQUIRE((flags & frame_flags::codec_mask) != 0);

  StreamDecoder dec;
  ByteView decoded;
  const ByteView raw = as_bytes("raw bytes");
  REQUIRE_FALSE(dec.decode_view(0, raw, scratch, SIZE_MAX, decoded));
  CHECK(decoded.data() == raw.data());  // not copied
  CHECK(decoded.size() == raw.size());
  REQUIRE_FALSE(dec.decode_view(flags, compressed.view(), scratch, SIZE_MAX, decoded));
  CHECK(std::string(decoded.begin(), decoded.end()) == text);
  CHECK(decoded.data() == scratch.data());

  // The same checks as decode: limit, end-of-stream, and a failed stream stays failed.
  StreamDecoder limited;
  CHECK(limited.decode_view(0, as_bytes("12345"), scratch, 4, decoded)->tag == ErrorTag::flow_control);
  CHECK(limited.decode_view(0, as_bytes("1"), scratch, 4, decoded)->tag == ErrorTag::flow_control);
  StreamDecoder ended;
  REQUIRE_FALSE(ended.decode_view(frame_flags::end_of_stream, raw, scratch, SIZE_MAX, decoded));
  CHECK(ended.decode_view(0, raw, scratch, SIZE_MAX, decoded)->tag == ErrorTag::bad_channel);
}

TEST_CASE("independent points restart decoding from scratch", "[codec]") {
  // What the master's log store relies on: after an independent flush, a fresh decoder can
  // start reading in the middle of a stored stream.
  auto codec = GENERATE(Codec::deflate, Codec::zstd);
  auto c = StreamCompressor::create(codec);
  ByteBuffer first, second;
  c->compress(as_bytes(std::string(5000, 'x')), first, /*independent=*/true);
  c->compress(as_bytes(std::string(5000, 'x') + "tail"), second);
  auto fresh = StreamDecompressor::create(codec);
  ByteBuffer plain;
  REQUIRE_FALSE(fresh->decompress(second.view(), plain, SIZE_MAX));
  REQUIRE(as_chars(plain.view()) == std::string(5000, 'x') + "tail");
}

TEST_CASE("a frame's bytes are all delivered before the next frame even when cut mid-stream",
          "[codec]") {
  // Raw frames interleaved at arbitrary cut points of a compressed stream must appear
  // exactly where they were sent: the decoder may not keep decoded bytes of one frame back.
  auto codec = GENERATE(Codec::deflate, Codec::zstd);
  std::mt19937_64 rng(21);
  std::string text;
  for (int i = 0; i < 400000; ++i) text.push_back("abc"[rng() % 3]);
  auto c = StreamCompressor::create(codec, 6);
  ByteBuffer wire;
  c->compress(as_bytes(text), wire);
  for (int trial = 0; trial < 20; ++trial) {
    StreamDecoder dec;
    ByteBuffer out;
    std::string expect;
    ByteView rest = wire.view();
    std::size_t decoded_so_far = 0;
    while (!rest.empty()) {
      std::size_t n = std::min<std::size_t>(rest.size(), 1 + rng() % 70000);
      REQUIRE_FALSE(dec.decode(static_cast<std::uint8_t>(codec), rest.first(n), out, SIZE_MAX));
      rest = rest.subspan(n);
      decoded_so_far = out.size() - (expect.size() - decoded_so_far) + decoded_so_far;
      REQUIRE_FALSE(dec.decode(0, as_bytes("|RAW|"), out, SIZE_MAX));
      expect.append(as_chars(out.view()).substr(expect.size()));
    }
    // Remove the markers: what remains must be the text, and each marker must sit where
    // the compressed bytes before it fully decode to.
    std::string got(as_chars(out.view()));
    std::string stripped;
    std::size_t pos = 0, next;
    while ((next = got.find("|RAW|", pos)) != std::string::npos) {
      stripped.append(got, pos, next - pos);
      pos = next + 5;
    }
    stripped.append(got, pos);
    REQUIRE(stripped == text);
  }
}

TEST_CASE("a codec that was not negotiated is refused", "[codec]") {
  StreamEncoder zstd(Codec::zstd);
  ByteBuffer p, out;
  auto flags = zstd.encode(as_bytes(std::string(1000, 'z')), p);
  StreamDecoder deflate_only({Codec::deflate});
  REQUIRE(deflate_only.decode(flags, p.view(), out, SIZE_MAX)->tag == ErrorTag::codec_error);
  // and the stream stays failed
  REQUIRE(deflate_only.decode(0, as_bytes("x"), out, SIZE_MAX)->tag == ErrorTag::codec_error);
}
