#include "daemon/secret_box.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace remsh::master {

namespace fs = std::filesystem;

namespace {

constexpr std::uint8_t kVersion[] = {'v', '1'};
constexpr std::size_t kVersionSize = sizeof kVersion;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

std::string errno_text(int e) { return std::strerror(e); }

// Closes a descriptor on every path out of a function.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads the whole key file into `key`. Throws when it is not exactly kKeySize bytes.
void read_key(const fs::path& file, std::array<std::uint8_t, SecretBox::kKeySize>& key) {
  Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    throw std::runtime_error("cannot read the secret key file " + file.string() + ": " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw std::runtime_error("the secret key file " + file.string() + " is not a regular file");
  }
  if (static_cast<std::size_t>(st.st_size) != SecretBox::kKeySize) {
    throw std::runtime_error("the secret key file " + file.string() + " has " + std::to_string(st.st_size) +
                             " bytes, expected " + std::to_string(SecretBox::kKeySize) +
                             " (restore it from a backup: without it no stored secret can be read)");
  }
  std::size_t got = 0;
  while (got < key.size()) {
    const ssize_t n = ::read(f.fd, key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? errno_text(errno) : "file shrank while read";
      OPENSSL_cleanse(key.data(), key.size());
      throw std::runtime_error("cannot read the secret key file " + file.string() + ": " + why);
    }
    got += static_cast<std::size_t>(n);
  }
}

// Creates the key file with fresh random bytes. The key is written to a temporary file in
// the same directory and then linked into place, so the file is either absent or whole; a
// link never replaces an existing file, so two masters starting at once cannot overwrite
// the key the other one already sealed values with (the loser reads the winner's key).
void create_key(const fs::path& file) {
  std::array<std::uint8_t, SecretBox::kKeySize> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("no random bytes from OpenSSL for the secret key file " + file.string());
  }
  std::string temp = file.string() + ".tmp-XXXXXX";
  Fd f{::mkstemp(temp.data())};
  if (f.fd < 0) {
    OPENSSL_cleanse(key.data(), key.size());
    throw std::runtime_error("cannot create the secret key file " + file.string() + ": " + errno_text(errno));
  }
  const auto fail = [&](const std::string& what, int e) {
    OPENSSL_cleanse(key.data(), key.size());
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot " + what + " the secret key file " + file.string() + ": " + errno_text(e));
  };
  if (::fchmod(f.fd, 0600) != 0) fail("protect", errno);
  std::size_t off = 0;
  while (off < key.size()) {
    const ssize_t n = ::write(f.fd, key.data() + off, key.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write", errno);
    off += static_cast<std::size_t>(n);
  }
  OPENSSL_cleanse(key.data(), key.size());
  if (::fsync(f.fd) != 0) fail("write", errno);
  const int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) fail("write", errno);
  if (::link(temp.c_str(), file.c_str()) != 0) {
    const int e = errno;
    if (e != EEXIST && ::rename(temp.c_str(), file.c_str()) != 0) {
      fail("create", errno);  // a file system without hard links: rename instead
    }
  }
  ::unlink(temp.c_str());  // already gone after a rename
  // Make the new name durable too, so a crash right after does not lose the key while a
  // value sealed with it is already in the database.
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

Ctx new_ctx() {
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  return ctx;
}

int checked_int(std::size_t n) {
  if (n > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error("secret too large");
  return static_cast<int>(n);
}

}  // namespace

SecretBox::SecretBox(const fs::path& key_file) {
  std::error_code ec;
  if (!fs::exists(key_file, ec)) {
    if (ec) {
      throw std::runtime_error("cannot read the secret key file " + key_file.string() + ": " + ec.message());
    }
    create_key(key_file);
  }
  read_key(key_file, key_);
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::vector<std::uint8_t> SecretBox::seal(std::string_view name, std::string_view value) const {
  const int value_len = checked_int(value.size());
  const int name_len = checked_int(name.size());
  std::vector<std::uint8_t> blob(kVersionSize + kNonceSize + value.size() + kTagSize);
  std::memcpy(blob.data(), kVersion, kVersionSize);
  std::uint8_t* const nonce = blob.data() + kVersionSize;
  std::uint8_t* const cipher = nonce + kNonceSize;
  std::uint8_t* const tag = cipher + value.size();
  if (RAND_bytes(nonce, static_cast<int>(kNonceSize)) != 1) {
    throw std::runtime_error("no random bytes from OpenSSL to seal secret " + std::string(name));
  }
  Ctx ctx = new_ctx();
  int len = 0;
  // The version and the name are authenticated: neither can be changed without the tag
  // failing. An empty value still runs one (empty) update, which GCM accepts.
  const bool ok =
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, kVersion, static_cast<int>(kVersionSize)) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const std::uint8_t*>(name.data()),
                        name_len) == 1 &&
      EVP_EncryptUpdate(ctx.get(), cipher, &len, reinterpret_cast<const std::uint8_t*>(value.data()),
                        value_len) == 1 &&
      len == value_len && EVP_EncryptFinal_ex(ctx.get(), cipher + len, &len) == 1 && len == 0 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), tag) == 1;
  if (!ok) throw std::runtime_error("secret " + std::string(name) + " cannot be encrypted (OpenSSL error)");
  return blob;
}

std::string SecretBox::open(std::string_view name, const std::vector<std::uint8_t>& blob) const {
  const auto fail = [&](const std::string& why) -> std::runtime_error {
    return std::runtime_error("secret " + std::string(name) + " cannot be decrypted: " + why);
  };
  if (blob.size() < kVersionSize + kNonceSize + kTagSize) throw fail("the stored value is too short");
  if (std::memcmp(blob.data(), kVersion, kVersionSize) != 0) throw fail("unknown format version");
  const std::uint8_t* const nonce = blob.data() + kVersionSize;
  const std::uint8_t* const cipher = nonce + kNonceSize;
  const std::size_t cipher_size = blob.size() - kVersionSize - kNonceSize - kTagSize;
  const std::uint8_t* const tag = cipher + cipher_size;
  const int cipher_len = checked_int(cipher_size);
  const int name_len = checked_int(name.size());

  std::string value(cipher_size, '\0');
  auto* const plain = reinterpret_cast<std::uint8_t*>(value.data());
  Ctx ctx = new_ctx();
  int len = 0;
  // OpenSSL wants a non-const tag pointer though it only reads it.
  std::array<std::uint8_t, kTagSize> expected{};
  std::memcpy(expected.data(), tag, kTagSize);
  const bool ready =
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, kVersion, static_cast<int>(kVersionSize)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const std::uint8_t*>(name.data()),
                        name_len) == 1 &&
      EVP_DecryptUpdate(ctx.get(), plain, &len, cipher, cipher_len) == 1 && len == cipher_len &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), expected.data()) == 1;
  if (!ready) {
    OPENSSL_cleanse(value.data(), value.size());
    throw fail("OpenSSL error");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), plain + len, &len) != 1) {
    // Unauthenticated plaintext must not linger either.
    OPENSSL_cleanse(value.data(), value.size());
    throw fail("damaged, sealed under another name, or sealed with another key");
  }
  return value;
}

}  // namespace remsh::master
