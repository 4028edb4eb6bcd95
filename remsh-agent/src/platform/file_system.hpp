// FileSystem: what the agent's fs channels (docs/protocol.md 9.6) need from the operating
// system, on paths already resolved and confined by the core (core/work_dir.hpp).
//
// Every call reports failure through a std::error_code (never throws), so the core can map
// it to the protocol's error tags (file_error_tag below) without knowing the platform.
// Names are acted on themselves: file_info, remove_tree, replace_file and set_times never
// follow a final symbolic link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace remsh::agent {

enum class FileType { none, file, directory, symlink, other };

struct FileInfo {
  FileType type = FileType::none;  // none: the path does not exist (not an error)
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // permission bits (07777)
  std::int64_t mtime_ms = 0;
  std::string target;  // symlinks: the link text
};

// lstat(): `none` without an error when the path is absent.
FileInfo file_info(const std::filesystem::path& path, std::error_code& ec);

// Names in a directory (without "." and ".."), sorted bytewise.
std::vector<std::string> list_names(const std::filesystem::path& dir, std::error_code& ec);

// An open regular file, read sequentially.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // 0 at the end of the file.
  virtual std::size_t read(std::span<std::uint8_t> into, std::error_code& ec) = 0;
  virtual std::uint64_t size() const = 0;
};
std::unique_ptr<ReadableFile> open_for_reading(const std::filesystem::path& path,
                                               std::uint64_t offset, std::error_code& ec);

// A new file under a temporary name beside its destination. Nothing appears at the
// destination until commit(); destroying it uncommitted removes the temporary file.
class NewFile {
 public:
  virtual ~NewFile() = default;
  virtual void write(std::span<const std::uint8_t> bytes, std::error_code& ec) = 0;
  // Applies mode and mtime and renames over the destination; with `durable`, the data is
  // flushed to disk first (a single file). Trees flush once at the end instead
  // (sync_file_system): one flush per small file would cost more than the transfer.
  virtual void commit(std::optional<std::uint32_t> mode, std::optional<std::int64_t> mtime_ms,
                      std::error_code& ec, bool durable = true) = 0;
};
std::unique_ptr<NewFile> create_new_file(const std::filesystem::path& destination,
                                         std::error_code& ec);

// mkdir -p; true when the last component was created.
bool make_directories(const std::filesystem::path& path, std::optional<std::uint32_t> mode,
                      std::error_code& ec);
// rm -rf that also removes read-only files and directories; false when nothing was there.
bool remove_tree(const std::filesystem::path& path, std::error_code& ec);
// rename(), replacing an existing file (not a non-empty directory).
void replace_file(const std::filesystem::path& from, const std::filesystem::path& to,
                  std::error_code& ec);
void make_symlink(const std::string& target, const std::filesystem::path& path,
                  std::error_code& ec);
// Sets a directory's mode and mtime through a descriptor opened without following a link:
// a path that is (now) a symlink or not a directory is an error, never followed.
void set_directory_mode_and_mtime(const std::filesystem::path& path, std::uint32_t mode,
                                  std::int64_t mtime_ms, std::error_code& ec);
// Flushes everything written to the file system holding `path` to disk.
void sync_file_system(const std::filesystem::path& path, std::error_code& ec);
void set_mode(const std::filesystem::path& path, std::uint32_t mode, std::error_code& ec);
void set_mtime(const std::filesystem::path& path, std::int64_t mtime_ms, std::error_code& ec);

// Why a path cannot be used as the plain file name it looks like on this platform, or an
// empty string. Windows: a ':' names an alternate data stream of another file, CON, NUL,
// COM1... are devices, and trailing dots or spaces are dropped (so "a." would be "a"); the
// core refuses such paths (`denied`) before anything touches them. POSIX: every name is
// plain.
std::string unusable_name_reason(const std::filesystem::path& path);

// The protocol's name for a failure: "not-found", "disk-full", ... ("io-error" otherwise).
std::string file_error_tag(const std::error_code& ec);

}  // namespace remsh::agent
