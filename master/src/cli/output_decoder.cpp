#include "output_decoder.hpp"

#include "cli_error.hpp"

namespace remsh::cli {

namespace {

// The master checked each frame against the agent's window already; this bound only keeps a
// broken master from making us allocate without limit.
constexpr std::size_t kMaxDecodedMessage = std::size_t{64} << 20;

}  // namespace

std::vector<std::string> OutputDecoder::codec_names() {
    return {std::string(protocol::codec_name(protocol::Codec::zstd)),
            std::string(protocol::codec_name(protocol::Codec::deflate))};
}

OutputDecoder::Output OutputDecoder::decode(std::string_view message) {
    if (message.size() < 2) {
        throw CliError("bad-response", "an output message without its stream and codec bytes");
    }
    const int stream = static_cast<unsigned char>(message[0]);
    const auto codec = static_cast<std::uint8_t>(message[1]);
    if (codec > static_cast<std::uint8_t>(protocol::Codec::zstd)) {
        throw CliError("bad-response", "output in unknown codec " + std::to_string(codec));
    }
    auto it = streams_.try_emplace(stream).first;
    out_.clear();
    const protocol::ByteView payload = protocol::as_bytes(message.substr(2));
    if (auto e = it->second.decode(codec, payload, out_, kMaxDecodedMessage)) {
        throw CliError("bad-response", "output of stream " + std::to_string(stream) +
                                           " does not decode: " + e->describe());
    }
    return {stream, std::string_view(reinterpret_cast<const char*>(out_.data()), out_.size())};
}

}  // namespace remsh::cli
