// OutputDecoder: turns the master's binary output messages (docs/api.md, "WebSocket
// streams") back into stream bytes. A client that lists "codecs" in its request receives
// each message as stream byte, codec byte and the agent's payload, still compressed: the
// master relays a few bytes instead of many, and the decoding happens here, on the client's
// own CPU. Each stream is one compressed stream, as on the agent link (docs/protocol.md).
#pragma once

#include "remsh/protocol/stream_codec.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace remsh::cli {

class OutputDecoder {
public:
    // The codecs this client decodes, by protocol name, for the request's "codecs".
    static std::vector<std::string> codec_names();

    struct Output {
        int stream = 0;
        std::string_view bytes;  // valid until the next decode()
    };

    // Decodes one binary message (stream byte, codec byte, payload). Throws CliError
    // ("bad-response") for a message that is too short or does not decode.
    Output decode(std::string_view message);

private:
    std::map<int, protocol::StreamDecoder> streams_;
    protocol::ByteBuffer out_;
};

}  // namespace remsh::cli
