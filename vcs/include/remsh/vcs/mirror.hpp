// Mirror: the master's bare copy of one repository (libgit2), fetched when a job needs it.
// It answers what a job's checkout needs and nothing more: which commit a ref means now, the
// files of a commit's tree, and a file's bytes. Agents never see git: the master turns these
// answers into plain file operations (docs/api.md, "checkout").
//
// Not thread-safe: one thread at a time per Mirror (the master runs all git work on one
// thread of its own, so a slow fetch never stalls agents or the API).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace remsh::vcs {

// tag: "vcs-error" (libgit2 failed: network, corrupt mirror), "bad-ref" (no such ref or
// commit), "bad-url".
struct VcsError : std::runtime_error {
  VcsError(std::string t, const std::string& message) : std::runtime_error(message), tag(std::move(t)) {}
  std::string tag;
};

// One entry of a commit's tree that a checkout writes: a file, an executable, a symlink (its
// blob holds the link text), or a submodule's commit (a gitlink).
struct TreeFile {
  enum class Kind { file, executable, symlink, submodule };
  std::string path;  // '/'-separated, relative to the tree's root
  Kind kind = Kind::file;
  std::string id;    // blob id (hex), or the submodule's commit id
};

class Mirror {
 public:
  // Opens the bare mirror in `dir`, creating it with `url` as its origin when missing (an
  // existing mirror's origin is set to `url` if it changed).
  Mirror(const std::filesystem::path& dir, const std::string& url);
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Fetches every branch and tag of origin (pruning those it lost) and points HEAD at the
  // origin's default branch.
  void fetch();
  // The commit a ref means: a branch, a tag, HEAD, or a commit id (full or abbreviated).
  std::string resolve(const std::string& ref) const;
  // The commit's files, sorted by path (bytewise). Directories are implied by the paths.
  std::vector<TreeFile> files(const std::string& commit) const;
  std::string read_blob(const std::string& blob_id) const;
  // The content of the file at `path` in the commit (e.g. ".gitmodules"), if there is one.
  std::optional<std::string> read_path(const std::string& commit, const std::string& path) const;
  // Whether the mirror has this commit (a submodule's commit must have been fetched).
  bool has_commit(const std::string& commit) const;
  std::int64_t commit_time_ms(const std::string& commit) const;

 private:
  struct Repo;
  std::unique_ptr<Repo> repo_;
  std::string url_;
};

// A valid repository URL for a mirror: file://, http(s)://, ssh://, git://, or user@host:path.
bool plausible_url(const std::string& url);

}  // namespace remsh::vcs
