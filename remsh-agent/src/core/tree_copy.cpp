#include "core/tree_copy.hpp"

#include <span>
#include <vector>

#include "core/utf8_path.hpp"
#include "platform/file_system.hpp"

namespace remsh::agent {
namespace fs = std::filesystem;

std::uint64_t copy_tree(const fs::path& from, const fs::path& to, std::error_code& ec) {
  FileInfo info = file_info(from, ec);
  if (ec) return 0;
  switch (info.type) {
    case FileType::none:
      ec = std::make_error_code(std::errc::no_such_file_or_directory);
      return 0;
    case FileType::symlink:
      make_symlink(info.target, to, ec);
      return ec ? 0 : 1;
    case FileType::directory: {
      make_directories(to, info.mode | 0700, ec);
      if (ec) return 0;
      std::uint64_t n = 1;
      for (const auto& name : list_names(from, ec)) {
        if (ec) return n;
        n += copy_tree(from / utf8_path(name), to / utf8_path(name), ec);
        if (ec) return n;
      }
      if (!ec) set_mode(to, info.mode, ec);
      return n;
    }
    case FileType::file: {
      auto in = open_for_reading(from, 0, ec);
      if (ec) return 0;
      auto out = create_new_file(to, ec);
      if (ec) return 0;
      std::vector<std::uint8_t> buf(256 * 1024);
      for (;;) {
        const std::size_t n = in->read(buf, ec);
        if (ec) return 0;
        if (n == 0) break;
        out->write(std::span<const std::uint8_t>(buf.data(), n), ec);
        if (ec) return 0;
      }
      out->commit(info.mode, info.mtime_ms, ec, /*durable=*/false);  // the caller flushes once
      return ec ? 0 : 1;
    }
    case FileType::other:
      return 0;
  }
  return 0;
}

}  // namespace remsh::agent
