#include "daemon/artifact_store.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "daemon/state_dir.hpp"

namespace remsh::master {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void fail(const std::string& what, const fs::path& path, int error) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(error));
}
}  // namespace

ArtifactStore::ArtifactStore(fs::path dir) : dir_(std::move(dir)) {}

fs::path ArtifactStore::path_of(std::int64_t job, const std::string& name) const {
  return dir_ / std::to_string(job) / (name + ".rta");
}

struct ArtifactStore::Writer::Digest {
  Digest() : ctx(EVP_MD_CTX_new()) {
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256: cannot start");
  }
  ~Digest() { EVP_MD_CTX_free(ctx); }
  EVP_MD_CTX* ctx;
};

ArtifactStore::Writer::Writer(fs::path final_path) : final_(std::move(final_path)), digest_(std::make_unique<Digest>()) {
  std::error_code ec;
  fs::create_directories(final_.parent_path(), ec);
  if (ec) throw std::runtime_error("cannot create " + final_.parent_path().string() + ": " + ec.message());
  temp_ = final_.parent_path() / (".tmp-" + random_hex(8) + "-" + final_.filename().string());
  file_ = std::fopen(temp_.c_str(), "wbx");
  if (!file_) fail("cannot create", temp_, errno);
}

ArtifactStore::Writer::~Writer() {
  if (file_) std::fclose(file_);
  if (!temp_.empty()) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void ArtifactStore::Writer::write(protocol::ByteView bytes) {
  if (bytes.empty()) return;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) fail("cannot write", temp_, errno);
  EVP_DigestUpdate(digest_->ctx, bytes.data(), bytes.size());
  size_ += static_cast<std::int64_t>(bytes.size());
}

void ArtifactStore::Writer::commit() {
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) fail("cannot write", temp_, errno);
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) fail("cannot write", temp_, errno);
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) throw std::runtime_error("cannot rename " + temp_.string() + ": " + ec.message());
  temp_.clear();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(digest_->ctx, md, &n);
  static const char* hex = "0123456789abcdef";
  sha256_.clear();
  for (unsigned int i = 0; i < n; ++i) {
    sha256_ += hex[md[i] >> 4];
    sha256_ += hex[md[i] & 15];
  }
}

ArtifactStore::Reader::Reader(const fs::path& path) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) fail("cannot read", path, errno);
}

ArtifactStore::Reader::~Reader() {
  if (file_) std::fclose(file_);
}

std::string ArtifactStore::Reader::next_piece() {
  std::string piece(256 * 1024, '\0');
  const std::size_t n = std::fread(piece.data(), 1, piece.size(), file_);
  if (n == 0 && std::ferror(file_)) throw std::runtime_error(std::string("cannot read an artifact: ") + std::strerror(errno));
  piece.resize(n);
  return piece;
}

}  // namespace remsh::master
