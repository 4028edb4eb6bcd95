// ArtifactStore: where a job's artifacts live on the master — one tree archive (docs/protocol.md
// 9.7) per artifact, as the agent sent it, in STATE/artifacts/JOB/NAME.rta. An archive is
// written under a temporary name and renamed into place only when complete, so a failed upload
// leaves nothing a later download could mistake for the artifact.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "remsh/protocol/byte_buffer.hpp"

namespace remsh::master {

class ArtifactStore {
 public:
  explicit ArtifactStore(std::filesystem::path dir);

  std::filesystem::path path_of(std::int64_t job, const std::string& name) const;

  class Writer {
   public:
    explicit Writer(std::filesystem::path final_path);  // throws std::runtime_error
    ~Writer();                                            // removes the file unless committed
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    void write(protocol::ByteView bytes);  // throws std::runtime_error (e.g. a full disk)
    void commit();                         // flushed, then renamed into place
    std::int64_t size() const { return size_; }
    const std::string& sha256() const { return sha256_; }  // after commit

   private:
    std::filesystem::path final_;
    std::filesystem::path temp_;
    std::FILE* file_ = nullptr;
    struct Digest;
    std::unique_ptr<Digest> digest_;
    std::int64_t size_ = 0;
    std::string sha256_;
  };

  // Reads a stored archive piece by piece (about 256 KiB each, "" at the end).
  class Reader {
   public:
    explicit Reader(const std::filesystem::path& path);  // throws std::runtime_error
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    std::string next_piece();

   private:
    std::FILE* file_ = nullptr;
  };

 private:
  std::filesystem::path dir_;
};

}  // namespace remsh::master
