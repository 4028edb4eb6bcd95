// The client's side of compressed output relay (docs/api.md): messages of stream byte, codec
// byte and one DATA frame's payload decode back to the stream's bytes.
#include "output_decoder.hpp"

#include "cli_error.hpp"

#include <catch2/catch.hpp>

#include <string>

using remsh::cli::CliError;
using remsh::cli::OutputDecoder;
namespace protocol = remsh::protocol;

namespace {

// One output message as the master relays it: the agent's encoder decides raw or compressed.
std::string message(int stream, protocol::StreamEncoder& encoder, const std::string& bytes) {
    protocol::ByteBuffer payload;
    const std::uint8_t flags = encoder.encode(protocol::as_bytes(bytes), payload);
    std::string m;
    m.push_back(static_cast<char>(stream));
    m.push_back(static_cast<char>(flags & protocol::frame_flags::codec_mask));
    m.append(reinterpret_cast<const char*>(payload.data()), payload.size());
    return m;
}

}  // namespace

TEST_CASE("output decoder: compressed streams decode message by message", "[cli][output]") {
    for (auto codec : {protocol::Codec::zstd, protocol::Codec::deflate}) {
        protocol::StreamEncoder out(codec), err(codec);
        OutputDecoder decoder;
        std::string got_out, got_err;
        for (int i = 0; i < 50; ++i) {
            const std::string line = "line " + std::to_string(i) + " of a build log\n";
            const std::string m = message(1, out, line + line + line);
            CHECK(m.size() < 3 * line.size());  // really compressed
            auto o = decoder.decode(m);
            CHECK(o.stream == 1);
            got_out += o.bytes;
            auto e = decoder.decode(message(2, err, "warning " + std::to_string(i) + "\n"));
            CHECK(e.stream == 2);
            got_err += e.bytes;
        }
        CHECK(got_out.substr(0, 45) == "line 0 of a build log\nline 0 of a build log\nl");
        CHECK(got_out.size() > 50 * 60);
        CHECK(got_err.find("warning 49\n") != std::string::npos);
    }
}

TEST_CASE("output decoder: raw messages pass through untouched", "[cli][output]") {
    OutputDecoder decoder;
    std::string all_bytes;
    for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
    auto o = decoder.decode(std::string("\x03\x00", 2) + all_bytes);
    CHECK(o.stream == 3);
    CHECK(o.bytes == all_bytes);
}

TEST_CASE("output decoder: malformed messages are bad-response errors", "[cli][output]") {
    OutputDecoder decoder;
    auto tag_of = [&](const std::string& m) {
        try {
            decoder.decode(m);
        } catch (const CliError& e) {
            return e.tag;
        }
        return std::string("none");
    };
    CHECK(tag_of(std::string("\x01", 1)) == "bad-response");
    CHECK(tag_of(std::string("\x01\x07xx", 4)) == "bad-response");
    CHECK(tag_of(std::string("\x02\x02not zstd at all", 17)) == "bad-response");
    CHECK(OutputDecoder::codec_names() == std::vector<std::string>{"zstd", "deflate"});
}
