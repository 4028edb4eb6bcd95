// TreeWalker: the entries under a path, one at a time, in the protocol's order (docs/protocol.md
// 9.6: each directory's names sorted bytewise, a directory before its contents). Symbolic
// links are entries, never followed. Walking one step at a time lets senders stop while
// they wait for credit, whatever the size of the tree.
#pragma once

#include "platform/file_system.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace remsh::agent {

struct WalkEntry {
  std::string path;                 // relative to the walked root, '/'-separated
  std::filesystem::path location;   // absolute
  FileInfo info;
};

class TreeWalker {
 public:
  // A directory root yields its contents (recursively or one level); any other root yields
  // itself, named by its last component.
  TreeWalker(const std::filesystem::path& root, bool recursive);

  // The next entry; nullopt at the end or on error (then error() says why).
  std::optional<WalkEntry> next();
  const std::error_code& error() const { return error_; }
  const std::string& error_path() const { return error_path_; }

 private:
  struct Level {
    std::filesystem::path dir;
    std::string prefix;  // "" or "a/b/"
    std::vector<std::string> names;
    std::size_t index = 0;
  };
  void enter(const std::filesystem::path& dir, std::string prefix);

  bool recursive_;
  std::optional<WalkEntry> single_;
  std::vector<Level> stack_;
  std::error_code error_;
  std::string error_path_;
};

}  // namespace remsh::agent
