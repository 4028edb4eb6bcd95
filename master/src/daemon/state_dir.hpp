// StateDir: everything a master keeps on disk, created on first start: the SQLite database
// (master.db, with master.db-logs/ for the bytes of large log chunks), the TLS key and
// self-signed certificate agents pin, and the admin API token (written once, stored hashed).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "daemon/artifact_store.hpp"
#include "daemon/secret_box.hpp"
#include "daemon/vcs_service.hpp"
#include "storage/storage.hpp"

namespace remsh::master {

class StateDir {
 public:
  // Opens DIR, creating what is missing. Throws std::runtime_error with a clear message.
  explicit StateDir(const std::filesystem::path& dir);

  const std::filesystem::path& path() const { return dir_; }
  Storage& storage() { return *storage_; }
  const std::filesystem::path& cert_file() const { return cert_; }
  const std::filesystem::path& key_file() const { return key_; }
  // SHA-256 of the certificate's DER encoding, lowercase hex: what agents pin.
  const std::string& fingerprint() const { return fingerprint_; }
  // Job secrets' key (secrets.key), job artifacts (artifacts/), and the files a job's
  // `download: {file: ...}` may take (files/: put there by the master's operator).
  const SecretBox& secret_box() const { return *secret_box_; }
  const ArtifactStore& artifacts() const { return *artifacts_; }
  std::filesystem::path files_dir() const { return dir_ / "files"; }
  // Repository mirrors (repos/) and the thread git work runs on.
  VcsService& vcs() { return *vcs_; }

 private:
  void ensure_tls();
  void ensure_admin_token();

  std::filesystem::path dir_;
  std::filesystem::path cert_;
  std::filesystem::path key_;
  std::string fingerprint_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<SecretBox> secret_box_;
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<VcsService> vcs_;
};

// Random bytes from the OS (OpenSSL's CSPRNG), as lowercase hex.
std::string random_hex(std::size_t bytes);
std::string sha256_hex(std::string_view text);
std::int64_t now_ms();

}  // namespace remsh::master
