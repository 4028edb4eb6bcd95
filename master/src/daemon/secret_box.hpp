// SecretBox: encrypts the values of the master's secret store (job secrets) so that a copy of
// the SQLite database alone (a backup, a file sent along with a bug report) does not reveal
// them. The key lives in its own file of the state directory, which is not copied with the
// database by accident.
//
// A sealed value is "v1" + a 12-byte random nonce + the AES-256-GCM ciphertext + its 16-byte
// tag. The secret's name is authenticated with it, so a value copied into another secret's
// row does not open there: whoever can write the database cannot swap secrets between jobs.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace remsh::master {

class SecretBox {
 public:
  static constexpr std::size_t kKeySize = 32;

  // Opens the key file, creating it (32 random bytes, mode 0600, written to a temporary
  // file first so a crash never leaves half a key) when missing. Throws std::runtime_error
  // naming the file if it has the wrong size or cannot be read or written.
  explicit SecretBox(const std::filesystem::path& key_file);
  ~SecretBox();
  // One copy of the key in memory, wiped when the box goes.
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  // `value` encrypted with a fresh nonce (sealing a value twice gives two different blobs).
  std::vector<std::uint8_t> seal(std::string_view name, std::string_view value) const;
  // The value sealed under `name`. Throws std::runtime_error("secret NAME cannot be
  // decrypted: ...") when the blob is damaged, was sealed under another name or with
  // another key. The message never contains the value or the key.
  std::string open(std::string_view name, const std::vector<std::uint8_t>& blob) const;

 private:
  std::array<std::uint8_t, kKeySize> key_{};
};

}  // namespace remsh::master
