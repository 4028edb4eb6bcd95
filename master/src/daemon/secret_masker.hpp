// SecretMasker: replaces a job's secret values with "***" in its output while the output
// streams in, so a secret never reaches the log, a watcher or the database. Output arrives in
// chunks that split anywhere, so a secret may straddle two (or ten) chunks: the bytes at the
// end of a chunk that could still become a secret are held back until the next chunk (or the
// end of the stream) decides. Each stream (1 stdout, 2 stderr, 3 tty) is matched on its own,
// since their bytes are not interleaved in any meaningful order.
//
// The result is the same as masking the whole stream at once: scanning from the left, the
// first position where a secret starts is replaced, the longest secret there wins ("abcdef"
// masks wholly even when "abcd" is a secret too), and scanning resumes after the replacement.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "remsh/protocol/byte_buffer.hpp"

namespace remsh::master {

class SecretMasker {
 public:
  // Values shorter than kMinSecretLength are not masked (callers refuse them earlier); a
  // multi-line value is also masked line by line (each line of at least kMinSecretLength
  // bytes, a trailing \r removed), since tools re-print secrets one line at a time.
  static constexpr std::size_t kMinSecretLength = 4;

  explicit SecretMasker(const std::vector<std::string>& secrets);

  // Nothing to mask: filter() and finish() hand bytes through unchanged.
  bool empty() const { return patterns_.empty(); }

  // The next bytes of one stream; returns what can be released now: every complete
  // occurrence of a secret replaced by "***". Bytes at the end that could be the start of a
  // secret are held back (at most longest-1 bytes per stream) until the next chunk decides.
  std::vector<std::uint8_t> filter(std::uint8_t stream, protocol::ByteView bytes);
  // The stream ended: releases what was held (masking any secret it still contains).
  std::vector<std::uint8_t> finish(std::uint8_t stream);

 private:
  // Masks `in` into `out`; returns how many bytes of `in` were decided. Unless `final`, it
  // stops at the first position where a secret may start but the bytes end too early to tell.
  std::size_t scan(protocol::ByteView in, bool final, std::vector<std::uint8_t>& out) const;

  // Longest first, so the first pattern that matches at a position is the one to replace.
  std::vector<std::string> patterns_;
  // For each first byte, the patterns that start with it (indexes into patterns_, longest
  // first); most bytes of an output start no secret and are skipped after one lookup.
  std::array<std::vector<std::size_t>, 256> by_first_byte_;
  std::array<bool, 256> starts_secret_{};
  std::map<std::uint8_t, std::vector<std::uint8_t>> held_;
};

}  // namespace remsh::master
