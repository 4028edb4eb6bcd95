#include "core/work_area.hpp"
#include "core/utf8_path.hpp"

#include "core/work_dir.hpp"
#include "platform/file_system.hpp"

#include <variant>

namespace remsh::agent {
namespace fs = std::filesystem;
using protocol::ErrorTag;
using protocol::ProtocolError;

namespace {

fs::path canonical_or_given(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : c;
}

fs::path without_trailing_separator(fs::path p) {
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

// Bytes that are not UTF-8 (docs/protocol.md 9.6) are a name on POSIX; where names are
// UTF-16 (Windows) the conversion fails, and such bytes name nothing.
std::variant<fs::path, ProtocolError> name_from_wire(const std::string& text) {
  try {
    return utf8_path(text);
  } catch (const std::exception&) {
    return ProtocolError{ErrorTag::denied, text + ": not a name this system can have"};
  }
}

}  // namespace

WorkArea::WorkArea(const fs::path& work_dir, const std::vector<fs::path>& allowed_roots)
    : work_dir_(without_trailing_separator(canonical_or_given(work_dir))) {
  roots_.push_back(work_dir_);
  for (const auto& r : allowed_roots) roots_.push_back(without_trailing_separator(canonical_or_given(r)));
}

bool WorkArea::contains(const fs::path& resolved) const {
  for (const auto& r : roots_) {
    if (is_within(r, resolved)) return true;
  }
  return false;
}

bool WorkArea::is_root(const fs::path& resolved) const {
  const fs::path p = without_trailing_separator(resolved.lexically_normal());
  for (const auto& r : roots_) {
    if (p == r) return true;
  }
  return false;
}

std::variant<fs::path, ProtocolError> WorkArea::resolve(const std::string& path, bool follow_final) const {
  const auto given_name = name_from_wire(path);
  if (const auto* refused = std::get_if<ProtocolError>(&given_name)) return *refused;
  const fs::path& given = std::get<fs::path>(given_name);
  // Absolute paths are only for the roots the owner allowed; relative ones start in the
  // work directory (and may lead into an allowed root through a link).
  return confine(given.is_absolute() ? given : work_dir_ / given, path, follow_final);
}

std::variant<fs::path, ProtocolError> WorkArea::resolve_under(const fs::path& dir, const std::string& name,
                                                              bool follow_final) const {
  const auto given_name = name_from_wire(name);
  if (const auto* refused = std::get_if<ProtocolError>(&given_name)) return *refused;
  const fs::path& given = std::get<fs::path>(given_name);
  if (given.is_absolute()) {
    return ProtocolError{ErrorTag::path_outside_workdir, name + " is an absolute path"};
  }
  return confine(dir / given, name, follow_final);
}

std::optional<std::variant<fs::path, ProtocolError>> WorkArea::resolve_child(const fs::path& dir,
                                                                             const std::string& leaf,
                                                                             const std::string& shown) const {
  if (leaf.empty() || leaf == "." || leaf == ".." || leaf.find_first_of("/\\") != std::string::npos) {
    return std::nullopt;
  }
  const auto given_name = name_from_wire(leaf);
  if (std::holds_alternative<ProtocolError>(given_name)) return std::nullopt;  // resolve_under refuses it
  const fs::path& given = std::get<fs::path>(given_name);
  if (given.has_root_path() || given.has_parent_path()) return std::nullopt;  // "C:x" on Windows
  if (const std::string why = unusable_name_reason(given); !why.empty()) {
    return ProtocolError{ErrorTag::denied, shown + ": " + why};
  }
  fs::path resolved = dir / given;
  if (!contains(resolved)) {
    return ProtocolError{ErrorTag::path_outside_workdir, shown + " is outside the work directory"};
  }
  return resolved;
}

std::variant<fs::path, ProtocolError> WorkArea::confine(const fs::path& candidate, const std::string& shown,
                                                        bool follow_final) const {
  const fs::path p = without_trailing_separator(candidate.lexically_normal());
  if (const std::string why = unusable_name_reason(p); !why.empty()) {
    return ProtocolError{ErrorTag::denied, shown + ": " + why};
  }
  const fs::path name = p.filename();
  fs::path resolved;
  std::error_code ec;
  if (follow_final || name.empty() || name == "." || name == ".." || !p.has_parent_path()) {
    resolved = fs::weakly_canonical(p, ec);
  } else {
    resolved = fs::weakly_canonical(p.parent_path(), ec);
    if (!ec) resolved /= name;
  }
  if (ec) return ProtocolError{ErrorTag::io_error, shown + ": " + ec.message()};
  // weakly_canonical stops at a dangling symlink (its target does not exist yet); creating
  // through it would still land at the target, so follow such links by hand.
  std::error_code absent;  // a path that does not exist is simply not a link
  for (int hops = 0; follow_final && hops < 40 && fs::is_symlink(fs::symlink_status(resolved, absent)); ++hops) {
    const fs::path target = fs::read_symlink(resolved, ec);
    if (ec) break;
    resolved = fs::weakly_canonical(target.is_absolute() ? target : resolved.parent_path() / target, ec);
    if (ec) break;
  }
  if (ec) return ProtocolError{ErrorTag::io_error, shown + ": " + ec.message()};
  if (follow_final && fs::is_symlink(fs::symlink_status(resolved, absent))) {
    return ProtocolError{ErrorTag::io_error, shown + ": too many levels of symbolic links"};
  }
  resolved = without_trailing_separator(resolved);
  if (!contains(resolved)) {
    return ProtocolError{ErrorTag::path_outside_workdir, shown + " is outside the work directory"};
  }
  return resolved;
}

}  // namespace remsh::agent
