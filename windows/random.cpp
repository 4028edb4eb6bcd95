// Random bytes (platform/random.hpp) from the system's generator.
#include "platform/random.hpp"

#include <windows.h>
#include <bcrypt.h>

#include <stdexcept>
#include <vector>

namespace remsh::agent {

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (!BCRYPT_SUCCESS(BCryptGenRandom(nullptr, raw.data(), static_cast<ULONG>(raw.size()), BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
    throw std::runtime_error("BCryptGenRandom failed");
  }
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char b : raw) {
    hex.push_back(digits[b >> 4]);
    hex.push_back(digits[b & 15]);
  }
  return hex;
}

}  // namespace remsh::agent
