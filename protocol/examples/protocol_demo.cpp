// A walk through one remsh session in bytes, made with the protocol library alone: greeting,
// handshake, an exec channel whose stdout is deflate-compressed, a dropped connection, the
// resume that replays what was lost, and the result. Prints each frame as hex with its
// meaning. (The README's first command runs this until the agent and master exist.)
#include <cstdio>
#include <string>

#include "remsh/protocol/banner.hpp"
#include "remsh/protocol/frame.hpp"
#include "remsh/protocol/messages.hpp"
#include "remsh/protocol/sequence.hpp"
#include "remsh/protocol/stream_codec.hpp"

using namespace remsh::protocol;

namespace {

void dump(const char* who, ByteView wire) {
  FrameDecoder d(kMaxFramePayload);
  d.feed(wire);
  for (;;) {
    auto r = d.next();
    if (auto* e = std::get_if<ProtocolError>(&r)) {
      std::printf("  !! %s\n", e->describe().c_str());
      return;
    }
    auto* f = std::get_if<FrameView>(&r);
    if (!f) return;
    static const char* names[] = {"?", "CONTROL", "DATA", "WINDOW", "ACK", "PING", "PONG"};
    std::printf("%s %-7s ch=%u seq=%llu", who, names[static_cast<int>(f->header.type)],
                f->header.channel, static_cast<unsigned long long>(f->header.seq));
    if (f->header.type == FrameType::data) {
      std::printf(" stream=%u codec=%s%s", f->header.stream,
                  std::string(codec_name(f->header.codec())).c_str(),
                  f->header.end_of_stream() ? " end" : "");
    }
    std::printf(" (%u bytes)\n", f->header.length);
    if (f->header.type == FrameType::control) {
      std::printf("      %.*s\n", static_cast<int>(f->payload.size()),
                  reinterpret_cast<const char*>(f->payload.data()));
    }
    std::printf("      ");
    std::size_t shown = std::min<std::size_t>(kFrameHeaderSize + 24, kFrameHeaderSize + f->payload.size());
    const std::uint8_t* start = f->payload.data() - kFrameHeaderSize;
    for (std::size_t i = 0; i < shown; ++i) std::printf("%02x%s", start[i], i == 19 ? " | " : "");
    std::printf("%s\n", shown < kFrameHeaderSize + f->payload.size() ? " ..." : "");
  }
}

void control(ByteBuffer& out, const boost::json::object& msg) {
  std::string text = serialize(msg);
  append_frame(out, {.type = FrameType::control}, as_bytes(text));
}

}  // namespace

int main() {
  std::printf("== greeting (8 bytes each way)\n");
  auto banner = encode_banner(kProtocolVersion);
  for (auto b : banner) std::printf("%02x ", b);
  std::printf("  \"remsh\\0\" + version 1\n\n== handshake (channel 0, unsequenced)\n");

  ByteBuffer a2m, m2a;
  Hello agent_hello{.role = "agent", .software = "remsh-agent/demo", .agent = "builder-1",
                    .nonce = std::string(64, 'a')};
  control(a2m, agent_hello.to_json());
  dump("agent ->", a2m.view());
  a2m.clear();
  Hello master_hello{.role = "master", .software = "remsh-master/demo"};
  control(m2a, master_hello.to_json());
  control(m2a, Challenge{std::string(64, 'c')}.to_json());
  dump("master->", m2a.view());
  m2a.clear();
  control(a2m, Auth{std::string(64, '0')}.to_json());
  dump("agent ->", a2m.view());
  a2m.clear();
  control(m2a, Welcome{"s-demo", false, 0, {Codec::zstd, Codec::deflate}, 15, 45}.to_json());
  dump("master->", m2a.view());
  m2a.clear();

  std::printf("\n== an exec channel (sequenced from here on)\n");
  ReplayBuffer master_out(kDefaultReplayBytes), agent_out(kDefaultReplayBytes);
  ExecRequest exec;
  exec.argv = {"make", "-j2"};
  std::string open_text = serialize(exec.to_json());
  master_out.send({.type = FrameType::control, .channel = 1}, as_bytes(open_text), m2a);
  dump("master->", m2a.view());
  m2a.clear();

  StreamEncoder stdout_encoder(Codec::deflate);
  std::string line = "[1/2] Building CXX object src/CMakeFiles/remsh.dir/main.cpp.o\n";
  std::string output;
  for (int i = 0; i < 40; ++i) output += line;
  ByteBuffer payload;
  std::uint8_t flags = stdout_encoder.encode(as_bytes(output), payload);
  agent_out.send({.type = FrameType::data, .flags = flags, .stream = stream_id::stdout_,
                  .channel = 1}, payload.view(), a2m);
  std::printf("(%zu bytes of stdout compressed to %zu)\n", output.size(), payload.size());
  dump("agent ->", a2m.view());

  std::printf("\n== the connection drops before the master saw that frame; the agent\n"
              "   reconnects, says it holds seq 1 from the master, and the master says it\n"
              "   holds nothing from the agent: the agent replays seq 1\n");
  a2m.clear();
  ByteBuffer replay;
  if (auto e = agent_out.replay(0, replay)) std::printf("resume failed: %s\n", e->describe().c_str());
  dump("agent ->", replay.view());

  a2m.clear();
  payload.clear();
  flags = stdout_encoder.encode(ByteView{}, payload, /*end=*/true);
  agent_out.send({.type = FrameType::data, .flags = flags, .stream = stream_id::stdout_,
                  .channel = 1}, payload.view(), a2m);
  ExecResult result{.reason = "exited", .exit_code = 0, .elapsed_ms = 1250};
  std::string result_text = serialize(result.to_json());
  agent_out.send({.type = FrameType::control, .channel = 1}, as_bytes(result_text), a2m);
  std::string close_text = serialize(Close{}.to_json());
  agent_out.send({.type = FrameType::control, .channel = 1}, as_bytes(close_text), a2m);
  append_ack(m2a, 4);
  dump("agent ->", a2m.view());
  dump("master->", m2a.view());
  std::printf("\nSpec: docs/protocol.md; vectors: tests/vectors/.\n");
  return 0;
}
