// TreeExtractor: writes a tree archive (docs/protocol.md 9.7) into a directory of the work
// area as it arrives (fs `put_tree`, 9.6). Each entry's path is resolved like any other
// path, so `..` or an earlier symlink cannot lead outside; files are written under a
// temporary name and renamed when complete; directory modes and mtimes are applied at the
// end (a read-only directory can still be filled). Destroying it mid-file removes the
// partial file.
#pragma once

#include "core/work_area.hpp"
#include "platform/file_system.hpp"
#include "remsh/protocol/tree_archive.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace remsh::agent {

class TreeExtractor : public protocol::TreeArchiveHandler {
 public:
  TreeExtractor(const WorkArea& area, std::filesystem::path root);

  std::optional<protocol::ProtocolError> on_entry(const protocol::TreeEntry& entry) override;
  std::optional<protocol::ProtocolError> on_file_data(protocol::ByteView bytes) override;
  std::optional<protocol::ProtocolError> on_file_end() override;
  std::optional<protocol::ProtocolError> on_archive_end() override;

  std::uint64_t entries() const { return entries_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  struct DirectoryFix {
    std::string path;  // relative to root_: resolved again when applied
    std::uint32_t mode;
    std::int64_t mtime_ms;
  };
  // Resolves an entry's path, reusing the directory the previous file was written to when
  // this entry is in it too.
  std::variant<std::filesystem::path, protocol::ProtocolError> resolve_entry(const std::string& path) const;
  // A later entry replaced `path` (or a parent of it): its pending fixes no longer apply.
  void forget_fixes_at(const std::string& path);
  std::optional<protocol::ProtocolError> os_error(const std::string& what, const std::error_code& ec) const;

  const WorkArea& area_;
  std::filesystem::path root_;
  std::unique_ptr<NewFile> file_;
  protocol::TreeEntry current_;
  std::vector<DirectoryFix> directories_;
  // The directory the last file went into: its path as the archive named it, and where it
  // resolved. Archives list a directory's files together, and resolving its path again for
  // each (a readlink and a stat per component) was most of the system calls of extracting
  // many small files. Kept only for a path with no link or `..` in it, and forgotten at any
  // entry that is not a file in it, or that removed a directory.
  struct KnownDirectory {
    std::string path;
    std::filesystem::path resolved;
  };
  std::optional<KnownDirectory> known_directory_;
  std::uint64_t entries_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace remsh::agent
