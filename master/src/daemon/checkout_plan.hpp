// CheckoutPlan: what a snapshot checkout must change in an agent's directory so that it holds
// a commit's tree — decided from the tree (with each file's SHA-256) and the agent's own
// manifest of the directory, not from what the master believes is there. A directory changed
// behind the master's back (a file edited, deleted, replaced by a directory) is therefore
// repaired by the same plan that updates an untouched one; the previous commit only says
// which files the last checkout wrote, so that `incremental` removes tracked files that the
// new commit deleted while keeping untracked build outputs. Pure: no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace remsh::master {

struct WantedFile {
  enum class Kind { file, executable, symlink };
  std::string path;
  Kind kind = Kind::file;
  std::string sha256;  // files: of the content
  std::string target;  // symlinks: the link text
  std::string blob_id;
  std::string source;  // the mirror that holds the blob (a submodule's), or "" for the repository's
};

// One entry of the agent's manifest (docs/protocol.md 9.6).
struct HeldEntry {
  std::string type;  // file, directory, symlink, other
  std::string sha256;
  std::uint32_t mode = 0;
  std::string target;
};

struct CheckoutPlan {
  std::vector<std::string> remove;  // first, topmost paths only
  std::vector<std::size_t> send;    // indexes into the wanted files
};

// method: incremental (files of `previous` that the tree lost are removed; others kept) or
// clean (everything that is not in the tree is removed).
CheckoutPlan plan_checkout(const std::vector<WantedFile>& wanted, const std::map<std::string, HeldEntry>& held,
                           const std::vector<std::string>& previous, const std::string& method);

}  // namespace remsh::master
