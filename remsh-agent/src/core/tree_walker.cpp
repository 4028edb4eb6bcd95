#include "core/tree_walker.hpp"
#include "core/utf8_path.hpp"

namespace remsh::agent {
namespace fs = std::filesystem;

TreeWalker::TreeWalker(const fs::path& root, bool recursive) : recursive_(recursive) {
  FileInfo info = file_info(root, error_);
  if (error_) {
    error_path_ = utf8_string(root);
    return;
  }
  if (info.type == FileType::none) {
    error_ = std::make_error_code(std::errc::no_such_file_or_directory);
    error_path_ = utf8_string(root);
  } else if (info.type == FileType::directory) {
    enter(root, "");
  } else {
    single_ = WalkEntry{utf8_string(root.filename()), root, std::move(info)};
  }
}

void TreeWalker::enter(const fs::path& dir, std::string prefix) {
  Level level{dir, std::move(prefix), list_names(dir, error_), 0};
  if (error_) {
    error_path_ = utf8_string(dir);
    return;
  }
  stack_.push_back(std::move(level));
}

std::optional<WalkEntry> TreeWalker::next() {
  if (error_) return std::nullopt;
  if (single_) {
    auto e = std::move(single_);
    single_.reset();
    return e;
  }
  while (!stack_.empty()) {
    Level& top = stack_.back();
    if (top.index == top.names.size()) {
      stack_.pop_back();
      continue;
    }
    const std::string& name = top.names[top.index++];
    WalkEntry e{top.prefix + name, top.dir / utf8_path(name), {}};
    e.info = file_info(e.location, error_);
    if (error_) {
      error_path_ = utf8_string(e.location);
      return std::nullopt;
    }
    if (e.info.type == FileType::none) continue;  // removed while we walk
    if (recursive_ && e.info.type == FileType::directory) {
      enter(e.location, e.path + "/");  // invalidates `top`
      if (error_) return std::nullopt;
    }
    return e;
  }
  return std::nullopt;
}

}  // namespace remsh::agent
