#include "core/tree_extractor.hpp"
#include "core/utf8_path.hpp"

#include "core/work_dir.hpp"

#include <algorithm>

namespace remsh::agent {
namespace fs = std::filesystem;
using protocol::ErrorTag;
using protocol::ProtocolError;
using protocol::TreeEntryType;

TreeExtractor::TreeExtractor(const WorkArea& area, fs::path root) : area_(area), root_(std::move(root)) {}

std::optional<ProtocolError> TreeExtractor::os_error(const std::string& what, const std::error_code& ec) const {
  auto tag = protocol::tag_from_name(file_error_tag(ec)).value_or(ErrorTag::io_error);
  return ProtocolError{tag, what + ": " + ec.message()};
}

std::variant<fs::path, ProtocolError> TreeExtractor::resolve_entry(const std::string& path) const {
  const auto slash = path.rfind('/');
  if (known_directory_ && slash != std::string::npos && slash == known_directory_->path.size() &&
      path.compare(0, slash, known_directory_->path) == 0) {
    if (auto child = area_.resolve_child(known_directory_->resolved, path.substr(slash + 1), path)) return *child;
  }
  return area_.resolve_under(root_, path, /*follow_final=*/false);
}

std::optional<ProtocolError> TreeExtractor::on_entry(const protocol::TreeEntry& entry) {
  ++entries_;
  auto resolved = resolve_entry(entry.path);
  if (auto* e = std::get_if<ProtocolError>(&resolved)) return *e;
  const fs::path path = std::get<fs::path>(resolved);
  if (!is_within(root_, path) || path == root_) {
    return ProtocolError{ErrorTag::path_outside_workdir, entry.path + " leaves the target directory"};
  }
  const bool in_known_directory = entry.type == TreeEntryType::file && known_directory_ &&
                                  path.parent_path() == known_directory_->resolved;
  if (!in_known_directory) known_directory_.reset();
  std::error_code ec;
  // Archives list a directory before its contents; a producer that does not still works.
  if (!in_known_directory) make_directories(path.parent_path(), std::nullopt, ec);
  if (ec) return os_error(entry.path, ec);

  switch (entry.type) {
    case TreeEntryType::directory: {
      // Owner-writable while we fill it; the archive's mode comes at the end.
      FileInfo existing = file_info(path, ec);
      if (!ec && existing.type != FileType::none && existing.type != FileType::directory) {
        forget_fixes_at(entry.path);
        remove_tree(path, ec);
      }
      if (!ec) make_directories(path, entry.mode | 0700, ec);
      if (!ec && existing.type == FileType::directory) set_mode(path, existing.mode | 0700, ec);
      if (ec) return os_error(entry.path, ec);
      directories_.push_back({entry.path, entry.mode, entry.mtime_ms});
      return std::nullopt;
    }
    case TreeEntryType::file: {
      forget_fixes_at(entry.path);
      file_ = create_new_file(path, ec);
      const bool replaces_directory = ec == std::errc::is_a_directory;
      if (replaces_directory) {
        ec.clear();
        known_directory_.reset();
        remove_tree(path, ec);
        if (!ec) file_ = create_new_file(path, ec);
      }
      if (ec) return os_error(entry.path, ec);
      if (!known_directory_ && !replaces_directory) {
        // Only a directory the archive spelled as it is, with no link or `..` on the way:
        // files written into it cannot change where such a path leads.
        if (const auto slash = entry.path.rfind('/'); slash != std::string::npos) {
          std::string directory = entry.path.substr(0, slash);
          if ((root_ / utf8_path(directory)).lexically_normal() == path.parent_path()) {
            known_directory_ = KnownDirectory{std::move(directory), path.parent_path()};
          }
        }
      }
      current_ = entry;
      return std::nullopt;
    }
    case TreeEntryType::symlink: {
      forget_fixes_at(entry.path);
      remove_tree(path, ec);
      if (!ec) make_symlink(entry.target, path, ec);
      if (!ec) set_mtime(path, entry.mtime_ms, ec);
      if (ec) return os_error(entry.path, ec);
      return std::nullopt;
    }
  }
  return ProtocolError{ErrorTag::bad_archive, "unknown entry type"};
}

std::optional<ProtocolError> TreeExtractor::on_file_data(protocol::ByteView bytes) {
  if (!file_) return ProtocolError{ErrorTag::bad_archive, "file data outside a file"};
  std::error_code ec;
  file_->write(bytes, ec);
  if (ec) {
    file_.reset();
    return os_error(current_.path, ec);
  }
  bytes_ += bytes.size();
  return std::nullopt;
}

std::optional<ProtocolError> TreeExtractor::on_file_end() {
  if (!file_) return ProtocolError{ErrorTag::bad_archive, "file end outside a file"};
  std::error_code ec;
  file_->commit(current_.mode, current_.mtime_ms, ec, /*durable=*/false);  // flushed once at the end
  file_.reset();
  if (ec) return os_error(current_.path, ec);
  return std::nullopt;
}

std::optional<ProtocolError> TreeExtractor::on_archive_end() {
  std::error_code ec;
  sync_file_system(root_, ec);  // the result promises the files are on disk
  if (ec) return os_error(utf8_string(root_), ec);
  // Deepest first, so that setting a parent's mtime comes after its children changed it.
  // Each path is resolved again and changed without following a link: whatever the archive
  // did meanwhile, a mode never lands outside the target directory.
  for (auto it = directories_.rbegin(); it != directories_.rend(); ++it) {
    auto resolved = area_.resolve_under(root_, it->path, /*follow_final=*/false);
    if (auto* e = std::get_if<ProtocolError>(&resolved)) return *e;
    const fs::path& path = std::get<fs::path>(resolved);
    if (!is_within(root_, path)) {
      return ProtocolError{ErrorTag::path_outside_workdir, it->path + " leaves the target directory"};
    }
    set_directory_mode_and_mtime(path, it->mode, it->mtime_ms, ec);
    if (ec) return os_error(it->path, ec);
  }
  return std::nullopt;
}

void TreeExtractor::forget_fixes_at(const std::string& path) {
  const std::string below = path + "/";
  std::erase_if(directories_, [&](const DirectoryFix& f) {
    return f.path == path || f.path.compare(0, below.size(), below) == 0;
  });
}

}  // namespace remsh::agent
