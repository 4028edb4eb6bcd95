// Sha256: incremental SHA-256 for file transfers (docs/protocol.md 9.6 `sha256` fields).
// A platform interface because speed matters here (gigabyte files): the POSIX build uses
// OpenSSL's implementation (SHA extensions where the CPU has them), Windows its own API.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace remsh::agent {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::uint8_t> bytes);
  // 64 lowercase hex digits; the hasher is spent afterwards.
  std::string finish_hex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace remsh::agent
