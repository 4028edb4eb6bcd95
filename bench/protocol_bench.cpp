// Protocol library benchmark (issue: foundation + protocol v1).
//
// Prints, as medians of several runs on one core:
//  - frame encode+decode throughput for 64 KiB DATA frames, uncompressed, with and without
//    the replay buffer (sequencing) on the send path;
//  - per codec (deflate level 1, zstd level 1) on a build log: the plain library compressing
//    and decompressing the same 64 KiB chunks with a flush after each, against the full
//    remsh path (StreamEncoder -> frame -> FrameDecoder -> StreamDecoder), and the cost of
//    our framing and streaming over the library alone.
//
// Usage: remsh-protocol-bench BUILD_LOG [--runs N] [--gib G]
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "remsh/protocol/frame.hpp"
#include "remsh/protocol/sequence.hpp"
#include "remsh/protocol/stream_codec.hpp"

using namespace remsh::protocol;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 64 * 1024;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs fn `runs` times and returns the median seconds.
double time_median(int runs, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return median(t);
}

// Times a and b alternately, so drift in clock speed or load hits both alike.
std::pair<double, double> time_pair(int runs, const std::function<void()>& a,
                                    const std::function<void()>& b) {
  std::vector<double> ta, tb;
  for (int i = 0; i < runs; ++i) {
    ta.push_back(time_median(1, a));
    tb.push_back(time_median(1, b));
  }
  return {median(ta), median(tb)};
}

volatile std::uint64_t g_sink;  // keeps results observable so nothing is optimised away

// ---- uncompressed framing ----

void frame_round_trip(std::uint64_t total, bool sequenced) {
  std::vector<std::uint8_t> payload(kChunk);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 31);
  ReplayBuffer replay(64ull << 20);
  FrameDecoder decoder(kMaxFramePayload);
  ByteBuffer wire;
  std::uint64_t seq = 0, delivered = 0, checksum = 0;
  constexpr std::size_t kBatch = 16;  // frames per "socket write"
  while (delivered < total) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      FrameHeader h{.type = FrameType::data, .stream = 1, .channel = 1};
      if (sequenced) {
        replay.send(h, payload, wire);
      } else {
        h.seq = ++seq;
        append_frame(wire, h, payload);
      }
    }
    decoder.feed(wire.view());
    wire.clear();
    for (;;) {
      auto r = decoder.next();
      auto* f = std::get_if<FrameView>(&r);
      if (!f) break;
      delivered += f->payload.size();
      checksum += f->payload[f->payload.size() - 1];
      if (sequenced) (void)replay.acknowledge(f->header.seq);  // peer acks as it goes
    }
  }
  g_sink = checksum;
}

// ---- codecs: the plain library ----

struct LibResult {
  std::size_t compressed = 0;
};

LibResult zlib_plain(const std::vector<std::uint8_t>& log) {
  z_stream c{}, d{};
  deflateInit2(&c, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  inflateInit2(&d, -15);
  std::vector<std::uint8_t> comp(deflateBound(&c, kChunk) + 64), plain(kChunk + 64);
  LibResult r;
  for (std::size_t off = 0; off < log.size(); off += kChunk) {
    std::size_t n = std::min(kChunk, log.size() - off);
    c.next_in = const_cast<Bytef*>(log.data() + off);
    c.avail_in = static_cast<uInt>(n);
    c.next_out = comp.data();
    c.avail_out = static_cast<uInt>(comp.size());
    deflate(&c, Z_SYNC_FLUSH);
    std::size_t clen = comp.size() - c.avail_out;
    r.compressed += clen;
    d.next_in = comp.data();
    d.avail_in = static_cast<uInt>(clen);
    d.next_out = plain.data();
    d.avail_out = static_cast<uInt>(plain.size());
    inflate(&d, Z_SYNC_FLUSH);
    if (plain.size() - d.avail_out != n) std::abort();
  }
  deflateEnd(&c);
  inflateEnd(&d);
  return r;
}

LibResult zstd_plain(const std::vector<std::uint8_t>& log) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 20);  // as remsh's encoder
  std::vector<std::uint8_t> comp(ZSTD_compressBound(kChunk) + 64), plain(kChunk + 64);
  LibResult r;
  for (std::size_t off = 0; off < log.size(); off += kChunk) {
    std::size_t n = std::min(kChunk, log.size() - off);
    ZSTD_inBuffer in{log.data() + off, n, 0};
    ZSTD_outBuffer out{comp.data(), comp.size(), 0};
    while (ZSTD_compressStream2(c, &out, &in, ZSTD_e_flush) != 0) {
    }
    r.compressed += out.pos;
    ZSTD_inBuffer din{comp.data(), out.pos, 0};
    ZSTD_outBuffer dout{plain.data(), plain.size(), 0};
    while (din.pos < din.size) ZSTD_decompressStream(d, &dout, &din);
    if (dout.pos != n) std::abort();
  }
  ZSTD_freeCCtx(c);
  ZSTD_freeDCtx(d);
  return r;
}

// ---- codecs: the remsh path ----

LibResult remsh_path(const std::vector<std::uint8_t>& log, Codec codec) {
  StreamEncoder encoder(codec);
  StreamDecoder decoder;
  FrameDecoder frames(kMaxFramePayload);
  ByteBuffer payload, wire, plain;
  LibResult r;
  std::uint64_t seq = 0;
  for (std::size_t off = 0; off < log.size(); off += kChunk) {
    std::size_t n = std::min(kChunk, log.size() - off);
    payload.clear();
    std::uint8_t flags = encoder.encode(ByteView{log.data() + off, n}, payload);
    append_frame(wire, {.type = FrameType::data, .flags = flags, .stream = 1, .channel = 1,
                        .seq = ++seq},
                 payload.view());
    r.compressed += payload.size();
    frames.feed(wire.view());
    wire.clear();
    auto f = std::get<FrameView>(frames.next());
    plain.clear();
    if (decoder.decode(f.header.flags, f.payload, plain, SIZE_MAX)) std::abort();
    if (plain.size() != n) std::abort();
  }
  return r;
}

std::vector<std::uint8_t> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "remsh-protocol-bench: cannot read %s\n", path);
    std::exit(2);
  }
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::printf("usage: remsh-protocol-bench BUILD_LOG [--runs N] [--gib G]\n"
                "Frame and codec throughput of the remsh protocol library on one core.\n"
                "bench/run-protocol-bench makes the build log and runs this.\n");
    return argc < 2 ? 2 : 0;
  }
  int runs = 5;
  double gib = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--gib") gib = std::max(0.1, std::atof(argv[i + 1]));
  }
  const auto log = read_file(argv[1]);
  const double mb = 1e6;
  std::printf("build log: %zu bytes; %d runs each, medians\n\n", log.size(), runs);

  const auto total = static_cast<std::uint64_t>(gib * (1ull << 30));
  for (bool sequenced : {false, true}) {
    double t = time_median(runs, [&] { frame_round_trip(total, sequenced); });
    std::printf("frames 64 KiB raw%-22s encode+decode %7.0f MB/s  (goal >= 2000)\n",
                sequenced ? " + replay buffer/acks:" : ":", static_cast<double>(total) / t / mb);
  }
  std::printf("\n");

  struct Row {
    const char* name;
    Codec codec;
    std::function<LibResult(const std::vector<std::uint8_t>&)> plain;
  };
  for (const Row& row : {Row{"deflate-1", Codec::deflate, zlib_plain},
                         Row{"zstd-1", Codec::zstd, zstd_plain}}) {
    LibResult lib{}, ours{};
    auto [t_lib, t_ours] = time_pair(
        runs, [&] { lib = row.plain(log); }, [&] { ours = remsh_path(log, row.codec); });
    double overhead = (t_ours - t_lib) / t_lib * 100.0;
    std::printf("%-9s library alone:  %6.1f MB/s  ratio %.2f\n", row.name,
                static_cast<double>(log.size()) / t_lib / mb,
                static_cast<double>(log.size()) / static_cast<double>(lib.compressed));
    std::printf("%-9s remsh stream:   %6.1f MB/s  ratio %.2f  framing+streaming cost %+.1f %% "
                "(goal < 5 %%)\n",
                row.name, static_cast<double>(log.size()) / t_ours / mb,
                static_cast<double>(log.size()) / static_cast<double>(ours.compressed), overhead);
  }
  std::printf("\n(each codec figure is compress + decompress of 64 KiB chunks, flushed per "
              "chunk, on one core)\n");
  return 0;
}
