// An established session on the master's side: every frame an agent can send, through
// sequencing, the channel table, credit, stream decoding and the acknowledgements held back
// until the master has stored what it received (docs/protocol.md 7.4). The first byte
// chooses between a fresh session and one a restarted master took up from stored state.
#include <cstdint>

#include "remsh/protocol/session.hpp"

using namespace remsh::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  SessionConfig config;
  config.is_master = true;
  config.ack_only_committed = true;
  config.local.window = kMinWindow;
  config.local.max_channels = 8;
  config.local.max_frame = kMinFramePayload;
  config.remote = config.local;
  config.codecs = {Codec::zstd, Codec::deflate};
  Session session(config);
  ExecRequest exec;
  exec.argv = {"true"};
  const std::uint8_t mode = data[0];
  ByteView rest{data + 1, size - 1};
  if (mode & 1) {
    // Taken up after a restart: channel 1 was running; the agent's replay ends at seq 4.
    session.restore({/*received=*/0, /*peer_received=*/2, /*peer_sent=*/4});
    session.restore_channel(1);
    session.grant(1, kMinWindow);
  } else {
    session.open_channel(exec.to_json());
    session.open_channel(exec.to_json());
  }
  // Bytes arrive in reads of a size the input chooses; after each read the master "stores"
  // what came (every second read), as the AgentLink does.
  const std::size_t step = 1 + (mode >> 1) % 64;
  int reads = 0;
  while (!rest.empty()) {
    const std::size_t n = rest.size() < step ? rest.size() : step;
    if (session.receive(rest.first(n))) return 0;
    rest = rest.subspan(n);
    while (auto event = session.poll()) {
      if (auto* d = std::get_if<ChannelData>(&*event)) {
        session.consumed(d->channel, d->bytes.size());
      } else if (auto* m = std::get_if<ChannelMessage>(&*event)) {
        if (m->message.type == "close") session.close_channel(m->channel);
      }
    }
    if (++reads % 2 == 0) session.committed();
    session.flush_ack();
    session.outgoing().clear();
  }
  return 0;
}
