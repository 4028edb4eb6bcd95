#include "daemon/state_dir.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "remsh/protocol/auth.hpp"

namespace remsh::master {

namespace fs = std::filesystem;
using remsh::protocol::as_bytes;
using remsh::protocol::ByteView;

std::string random_hex(std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    throw std::runtime_error("no random bytes from OpenSSL");
  }
  return protocol::to_hex(buf);
}

std::string sha256_hex(std::string_view text) {
  auto d = protocol::sha256(as_bytes(text));
  return protocol::to_hex(ByteView{d});
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// Writes a new file with mode 0600; fails if it exists (nothing is ever overwritten).
void write_private_file(const fs::path& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "create " + path.string());
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw std::system_error(e, std::generic_category(), "write " + path.string());
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    throw std::system_error(errno, std::generic_category(), "close " + path.string());
  }
}

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string der_fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) throw std::runtime_error("X509_digest");
  return protocol::to_hex(ByteView{md, len});
}

}  // namespace

StateDir::StateDir(const fs::path& dir) : dir_(fs::absolute(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create state dir " + dir_.string() + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
  storage_ = open_sqlite_storage((dir_ / "master.db").string());
  cert_ = dir_ / "tls-cert.pem";
  key_ = dir_ / "tls-key.pem";
  ensure_tls();
  ensure_admin_token();
  secret_box_ = std::make_unique<SecretBox>(dir_ / "secrets.key");
  artifacts_ = std::make_unique<ArtifactStore>(dir_ / "artifacts");
  vcs_ = std::make_unique<VcsService>(dir_ / "repos");
}

void StateDir::ensure_tls() {
  if (!fs::exists(cert_) || !fs::exists(key_)) {
    // EC P-256: small, fast, and accepted by every TLS 1.2+ stack we care about (SChannel).
    std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
    if (!key) throw std::runtime_error("cannot generate the TLS key");
    std::unique_ptr<X509, X509Free> cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(now_ms() / 1000));
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 20L * 365 * 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("remsh-master"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
      throw std::runtime_error("cannot sign the TLS certificate");
    }
    std::unique_ptr<BIO, BioFree> kb(BIO_new(BIO_s_mem())), cb(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_X509(cb.get(), cert.get());
    write_private_file(key_, bio_string(kb.get()));
    write_private_file(cert_, bio_string(cb.get()));
  }
  FILE* f = std::fopen(cert_.c_str(), "r");
  if (!f) throw std::runtime_error("cannot read " + cert_.string());
  std::unique_ptr<X509, X509Free> cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!cert) throw std::runtime_error("damaged certificate " + cert_.string());
  fingerprint_ = der_fingerprint(cert.get());
}

void StateDir::ensure_admin_token() {
  if (storage_->get_setting("admin_token_id")) return;
  // The token exists in clear only in this file; the database keeps its hash.
  const std::string token = "rmt_" + random_hex(32);
  const fs::path file = dir_ / "admin.token";
  fs::remove(file);  // a stale file from a database that was deleted
  write_private_file(file, token + "\n");
  storage_->add_api_token("admin", sha256_hex(token), "admin", now_ms());
  storage_->set_setting("admin_token_id", "admin");
}

}  // namespace remsh::master
