// Random bytes from the operating system, for nonces (docs/protocol.md 6.2: 32 fresh random
// bytes per connection). POSIX: getrandom() or /dev/urandom (posix/random.cpp); Windows:
// BCryptGenRandom.
#pragma once

#include <cstddef>
#include <string>

namespace remsh::agent {

// `bytes` random bytes as 2*bytes lowercase hex digits. Throws std::runtime_error when the
// system has no randomness to give (never expected; a nonce must not be guessable).
std::string random_hex(std::size_t bytes);

}  // namespace remsh::agent
