#include "core/tree_extractor.hpp"

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

std::optional<ProtocolError> TreeExtractor::on_entry(const protocol::TreeEntry& entry) {
  ++entries_;
  auto resolved = area_.resolve_under(root_, entry.path, /*follow_final=*/false);
  if (auto* e = std::get_if<ProtocolError>(&resolved)) return *e;
  const fs::path path = std::get<fs::path>(resolved);
  if (!area_.contains(path) || path == root_) {
    return ProtocolError{ErrorTag::path_outside_workdir, entry.path + " leaves the target directory"};
  }
  std::error_code ec;
  // Archives list a directory before its contents; a producer that does not still works.
  make_directories(path.parent_path(), std::nullopt, ec);
  if (ec) return os_error(entry.path, ec);

  switch (entry.type) {
    case TreeEntryType::directory: {
      // Owner-writable while we fill it; the archive's mode comes at the end.
      FileInfo existing = file_info(path, ec);
      if (!ec && existing.type != FileType::none && existing.type != FileType::directory) {
        remove_tree(path, ec);
      }
      if (!ec) make_directories(path, entry.mode | 0700, ec);
      if (!ec && existing.type == FileType::directory) set_mode(path, existing.mode | 0700, ec);
      if (ec) return os_error(entry.path, ec);
      directories_.push_back({path, entry.mode, entry.mtime_ms});
      return std::nullopt;
    }
    case TreeEntryType::file: {
      FileInfo existing = file_info(path, ec);
      if (!ec && existing.type == FileType::directory) remove_tree(path, ec);
      if (!ec) file_ = create_new_file(path, ec);
      if (ec) return os_error(entry.path, ec);
      current_ = entry;
      return std::nullopt;
    }
    case TreeEntryType::symlink: {
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
  // Deepest first, so that setting a parent's mtime comes after its children changed it.
  std::error_code ec;
  sync_file_system(root_, ec);  // the result promises the files are on disk
  if (ec) return os_error(root_.string(), ec);
  for (auto it = directories_.rbegin(); it != directories_.rend(); ++it) {
    set_mode(it->path, it->mode, ec);
    if (!ec) set_mtime(it->path, it->mtime_ms, ec);
    if (ec) return os_error(it->path.string(), ec);
  }
  return std::nullopt;
}

}  // namespace remsh::agent
