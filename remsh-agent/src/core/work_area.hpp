// WorkArea: where an agent's file operations may act (docs/protocol.md 9.6): inside its work
// directory, plus the extra roots its owner allowed in the agent's local configuration.
//
// A path is judged by where it really leads: `..` and symbolic links of the directories
// on the way are resolved first. With follow_final false the last component is kept as a
// name (a symlink there is the object itself, as for stat, remove or write), but the
// directory holding it is still resolved and checked.
#pragma once

#include "remsh/protocol/error.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace remsh::agent {

class WorkArea {
 public:
  // Paths that cannot be resolved (a missing work directory) are kept as given.
  WorkArea(const std::filesystem::path& work_dir, const std::vector<std::filesystem::path>& allowed_roots);

  const std::filesystem::path& work_dir() const { return work_dir_; }

  // The absolute, confined location of `path` (relative to the work directory, or absolute
  // inside an allowed root), or path-outside-workdir.
  std::variant<std::filesystem::path, protocol::ProtocolError> resolve(const std::string& path,
                                                                       bool follow_final) const;
  // The same for `name` (relative) inside an already resolved directory `dir`.
  std::variant<std::filesystem::path, protocol::ProtocolError> resolve_under(
      const std::filesystem::path& dir, const std::string& name, bool follow_final) const;

  // The same for `leaf`, one plain name (no separator, not `.` or `..`), inside `dir`, a
  // directory this area resolved before and the caller knows to be unchanged since: no
  // directory on the way is resolved again. Anything else in `leaf` returns nullopt, and
  // the caller resolves the whole path with resolve_under. Errors name `shown`.
  std::optional<std::variant<std::filesystem::path, protocol::ProtocolError>> resolve_child(
      const std::filesystem::path& dir, const std::string& leaf, const std::string& shown) const;

  bool contains(const std::filesystem::path& resolved) const;
  bool is_root(const std::filesystem::path& resolved) const;  // the work dir or an allowed root

 private:
  std::variant<std::filesystem::path, protocol::ProtocolError> confine(
      const std::filesystem::path& candidate, const std::string& shown, bool follow_final) const;

  std::filesystem::path work_dir_;
  std::vector<std::filesystem::path> roots_;  // work_dir_ first
};

}  // namespace remsh::agent
