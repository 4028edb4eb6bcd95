// SecretMasker: an agent's output (bytes off the network) masked chunk by chunk. Whatever the
// bytes and however they are cut, the result equals masking the whole stream at once, and
// bytes without a secret pass unchanged.
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/secret_masker.hpp"

using remsh::master::SecretMasker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  // The first bytes choose two secrets (from the input itself) and the chunk size.
  const std::size_t a = 4 + data[0] % 8, b = 4 + data[1] % 5, chunk = 1 + data[2] % 17;
  const std::string input(reinterpret_cast<const char*>(data) + 3, size - 3);
  if (input.size() < a + b) return 0;
  const std::vector<std::string> secrets{input.substr(0, a), input.substr(a, b)};
  SecretMasker whole(secrets), pieces(secrets);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(input.data());
  std::vector<std::uint8_t> expected = whole.filter(1, {bytes, input.size()});
  const auto rest = whole.finish(1);
  expected.insert(expected.end(), rest.begin(), rest.end());
  std::vector<std::uint8_t> got;
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    const auto out = pieces.filter(1, {bytes + at, std::min(chunk, input.size() - at)});
    got.insert(got.end(), out.begin(), out.end());
  }
  const auto tail = pieces.finish(1);
  got.insert(got.end(), tail.begin(), tail.end());
  if (got != expected) __builtin_trap();
  // Bytes that hold no secret pass unchanged (single-line secrets: a multi-line one is also
  // masked line by line).
  const std::string tail_text = input.substr(a + b);
  const bool single_lines = secrets[0].find('\n') == std::string::npos && secrets[1].find('\n') == std::string::npos;
  if (single_lines && tail_text.find(secrets[0]) == std::string::npos && tail_text.find(secrets[1]) == std::string::npos) {
    SecretMasker plain(secrets);
    const auto* t = reinterpret_cast<const std::uint8_t*>(tail_text.data());
    std::vector<std::uint8_t> out = plain.filter(2, {t, tail_text.size()});
    const auto end = plain.finish(2);
    out.insert(out.end(), end.begin(), end.end());
    if (std::string(out.begin(), out.end()) != tail_text) __builtin_trap();
  }
  return 0;
}
