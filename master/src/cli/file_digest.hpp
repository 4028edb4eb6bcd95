// SHA-256 of local files and byte streams (OpenSSL's, which uses the CPU's SHA extensions):
// announced with uploads and checked against what the agent reports.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace remsh::cli {

class Digest {
public:
    Digest();
    ~Digest();
    Digest(const Digest&) = delete;
    Digest& operator=(const Digest&) = delete;
    void update(std::string_view bytes);
    std::string hex();  // 64 lowercase hex digits; the object is spent afterwards

private:
    struct State;
    std::unique_ptr<State> state_;
};

// The digest of a local file's contents; throws CliError (io-error) when it cannot be read.
std::string file_sha256(const std::string& path, std::uint64_t* size = nullptr);

}  // namespace remsh::cli
