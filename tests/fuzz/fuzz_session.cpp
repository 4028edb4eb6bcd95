// An established session on the agent's side: every frame the master can send, through
// sequencing, the channel table, credit and stream decoding. Consumes what arrives so
// credit flows, and answers opens like an agent would.
#include <cstdint>

#include "remsh/protocol/session.hpp"

using namespace remsh::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  SessionConfig config;
  config.is_master = false;
  config.local.window = kMinWindow;
  config.local.max_channels = 8;
  config.local.max_frame = kMinFramePayload;
  config.remote = config.local;
  config.codecs = {Codec::zstd, Codec::deflate};
  Session session(config);
  if (session.receive(ByteView{data, size})) return 0;
  while (auto event = session.poll()) {
    if (auto* d = std::get_if<ChannelData>(&*event)) {
      session.consumed(d->channel, d->bytes.size());
    } else if (auto* m = std::get_if<ChannelMessage>(&*event)) {
      // A later frame may have failed the channel already (the agent checks the same).
      if (m->message.type == "open" && session.channel_open(m->channel)) {
        session.send_control(m->channel, Opened{}.to_json());
        session.send_data(m->channel, 1, as_bytes("output"), true);
      } else if (m->message.type == "close") {
        session.close_channel(m->channel);
      }
    }
  }
  session.flush_ack();
  return 0;
}
