// SHA-256 (platform/sha256.hpp) through CNG (bcrypt.dll), the system's own implementation.
#include "platform/sha256.hpp"

#include <windows.h>
#include <bcrypt.h>

#include <cstdlib>

namespace remsh::agent {

namespace {
// The provider is opened once and kept (the pseudo-handles of newer SDKs are not in mingw's).
BCRYPT_ALG_HANDLE sha256_provider() {
  static const BCRYPT_ALG_HANDLE provider = [] {
    BCRYPT_ALG_HANDLE h = nullptr;
    if (!BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&h, BCRYPT_SHA256_ALGORITHM, nullptr, 0))) std::abort();
    return h;
  }();
  return provider;
}
}  // namespace

struct Sha256::State {
  BCRYPT_HASH_HANDLE hash = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  // A system without SHA-256: nothing sensible to continue with.
  if (!BCRYPT_SUCCESS(BCryptCreateHash(sha256_provider(), &state_->hash, nullptr, 0, nullptr, 0, 0))) std::abort();
}

Sha256::~Sha256() {
  if (state_->hash) BCryptDestroyHash(state_->hash);
}

void Sha256::update(std::span<const std::uint8_t> bytes) {
  // BCryptHashData takes a ULONG length: feed big spans in pieces.
  while (!bytes.empty()) {
    const std::size_t n = bytes.size() > (1u << 30) ? (1u << 30) : bytes.size();
    if (!BCRYPT_SUCCESS(BCryptHashData(state_->hash, const_cast<PUCHAR>(bytes.data()), static_cast<ULONG>(n), 0))) std::abort();
    bytes = bytes.subspan(n);
  }
}

std::string Sha256::finish_hex() {
  unsigned char digest[32];
  if (!BCRYPT_SUCCESS(BCryptFinishHash(state_->hash, digest, sizeof digest, 0))) std::abort();
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : digest) {
    hex.push_back(digits[b >> 4]);
    hex.push_back(digits[b & 15]);
  }
  return hex;
}

}  // namespace remsh::agent
