#include "core/work_dir.hpp"
#include "core/utf8_path.hpp"

namespace remsh::agent {
namespace fs = std::filesystem;
using protocol::ErrorTag;
using protocol::ProtocolError;

namespace {

// "/a/b/" and "/a/b" name the same directory; drop the empty last element.
fs::path without_trailing_separator(fs::path p) {
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

}  // namespace

bool is_within(const fs::path& base, const fs::path& path) {
  const fs::path b = without_trailing_separator(base.lexically_normal());
  const fs::path p = without_trailing_separator(path.lexically_normal());
  auto bi = b.begin();
  auto pi = p.begin();
  for (; bi != b.end(); ++bi, ++pi) {
    if (pi == p.end() || *pi != *bi) return false;
  }
  return true;
}

std::variant<fs::path, ProtocolError> resolve_cwd(const fs::path& work_dir,
                                                  const std::optional<std::string>& cwd) {
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(work_dir, ec);
  if (ec) {
    return ProtocolError{ErrorTag::exec_failed,
                         "work directory " + utf8_string(work_dir) + ": " + ec.message()};
  }
  if (!cwd || cwd->empty()) return base;
  // weakly_canonical follows every symbolic link of the part that exists and normalises
  // the rest, so neither "../x" nor a link to "/" inside the work directory gets out.
  const fs::path target = fs::weakly_canonical(base / utf8_path(*cwd), ec);
  if (ec) return ProtocolError{ErrorTag::exec_failed, "cwd " + *cwd + ": " + ec.message()};
  if (!is_within(base, target)) {
    return ProtocolError{ErrorTag::path_outside_workdir,
                         "cwd " + *cwd + " is outside the work directory"};
  }
  return without_trailing_separator(target);
}

}  // namespace remsh::agent
