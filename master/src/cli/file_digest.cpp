#include "file_digest.hpp"

#include "cli_error.hpp"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace remsh::cli {

struct Digest::State {
    EVP_MD_CTX* ctx = nullptr;
};

Digest::Digest() : state_(std::make_unique<State>()) {
    state_->ctx = EVP_MD_CTX_new();
    if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
        std::abort();  // out of memory or a broken libcrypto
    }
}

Digest::~Digest() { EVP_MD_CTX_free(state_->ctx); }

void Digest::update(std::string_view bytes) {
    if (!bytes.empty()) {
        EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size());
    }
}

std::string Digest::hex() {
    unsigned char digest[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(state_->ctx, digest, &n);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out.push_back(digits[digest[i] >> 4]);
        out.push_back(digits[digest[i] & 15]);
    }
    return out;
}

std::string file_sha256(const std::string& path, std::uint64_t* size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw CliError("io-error", path + ": " + std::strerror(errno));
    }
    Digest digest;
    // One buffer for every call: sync hashes thousands of small files.
    static thread_local std::vector<char> buf(256 * 1024);
    std::uint64_t total = 0;
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            throw CliError("io-error", path + ": " + std::strerror(e));
        }
        if (n == 0) {
            break;
        }
        digest.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        total += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    if (size) {
        *size = total;
    }
    return digest.hex();
}

}  // namespace remsh::cli
