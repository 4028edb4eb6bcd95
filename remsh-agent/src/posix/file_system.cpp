// POSIX implementation of platform/file_system.hpp.
#include "platform/file_system.hpp"

#include "platform/random.hpp"
#include "posix/unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace remsh::agent {
namespace fs = std::filesystem;
using posix_detail::UniqueFd;

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

std::int64_t to_ms(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

struct timespec to_timespec(std::int64_t ms) {
  std::int64_t sec = ms / 1000, rest = ms % 1000;
  if (rest < 0) {
    rest += 1000;
    sec -= 1;
  }
  return {static_cast<time_t>(sec), static_cast<long>(rest * 1000000)};
}

FileType type_of(mode_t m) {
  if (S_ISREG(m)) return FileType::file;
  if (S_ISDIR(m)) return FileType::directory;
  if (S_ISLNK(m)) return FileType::symlink;
  return FileType::other;
}

std::size_t write_fully(int fd, const std::uint8_t* p, std::size_t n, std::error_code& ec) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd, p + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      ec = last_error();
      return done;
    }
    done += static_cast<std::size_t>(w);
  }
  return done;
}

class PosixReadableFile : public ReadableFile {
 public:
  PosixReadableFile(UniqueFd fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}
  std::size_t read(std::span<std::uint8_t> into, std::error_code& ec) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), into.data(), into.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      ec = last_error();
      return 0;
    }
  }
  std::uint64_t size() const override { return size_; }

 private:
  UniqueFd fd_;
  std::uint64_t size_;
};

class PosixNewFile : public NewFile {
 public:
  PosixNewFile(UniqueFd fd, fs::path temp, fs::path destination)
      : fd_(std::move(fd)), temp_(std::move(temp)), destination_(std::move(destination)) {}
  ~PosixNewFile() override {
    if (!committed_) {
      fd_.reset();
      ::unlink(temp_.c_str());
    }
  }
  void write(std::span<const std::uint8_t> bytes, std::error_code& ec) override {
    written_ += write_fully(fd_.get(), bytes.data(), bytes.size(), ec);
    if (written_ - handed_to_disk_ >= kWritebackChunk) start_writeback();
  }
  void commit(std::optional<std::uint32_t> mode, std::optional<std::int64_t> mtime_ms,
              std::error_code& ec, bool durable) override {
    // Mode before the data is durable: a mode like 0444 must not stop our own writes, and
    // fchmod on the open descriptor never follows anything.
    const mode_t m = mode ? static_cast<mode_t>(*mode) : static_cast<mode_t>(0666 & ~current_umask());
    if (::fchmod(fd_.get(), m) != 0) return void(ec = last_error());
    if (mtime_ms) {
      const struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(*mtime_ms)};
      if (::futimens(fd_.get(), times) != 0) return void(ec = last_error());
    }
    // The data must be on disk before the name says the file is complete.
    // Written back as it arrived (start_writeback), so this waits only for the last chunk.
    if (durable && ::fdatasync(fd_.get()) != 0) return void(ec = last_error());
    if (::close(fd_.release()) != 0) return void(ec = last_error());
    if (::rename(temp_.c_str(), destination_.c_str()) != 0) return void(ec = last_error());
    committed_ = true;
  }

 private:
  // Large files go to disk while the rest still arrives: the final flush then waits for the
  // tail only, and a 1 GiB upload takes about max(transfer, disk) instead of their sum.
  // Only a hint: where the kernel has no such call, commit's flush does all of it.
  static constexpr std::uint64_t kWritebackChunk = 8 << 20;
  void start_writeback() {
#if defined(__linux__)
    ::sync_file_range(fd_.get(), static_cast<off_t>(handed_to_disk_),
                      static_cast<off_t>(written_ - handed_to_disk_), SYNC_FILE_RANGE_WRITE);
#endif
    handed_to_disk_ = written_;
  }
  static mode_t current_umask() {
    // umask can only be read by setting it; the agent is single-threaded in its file work.
    const mode_t old = ::umask(022);
    ::umask(old);
    return old;
  }
  UniqueFd fd_;
  fs::path temp_;
  fs::path destination_;
  bool committed_ = false;
  std::uint64_t written_ = 0, handed_to_disk_ = 0;
};

}  // namespace

FileInfo file_info(const fs::path& path, std::error_code& ec) {
  FileInfo info;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) ec = last_error();
    return info;
  }
  info.type = type_of(st.st_mode);
  info.size = info.type == FileType::file || info.type == FileType::symlink ? static_cast<std::uint64_t>(st.st_size) : 0;
  info.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  info.mtime_ms = to_ms(st.st_mtim);
  if (info.type == FileType::symlink) {
    std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) {
      ec = last_error();
      return info;
    }
    target.resize(static_cast<std::size_t>(n));
    info.target = std::move(target);
  }
  return info;
}

std::vector<std::string> list_names(const fs::path& dir, std::error_code& ec) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    ec = last_error();
    return names;
  }
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  if (errno != 0) ec = last_error();
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::unique_ptr<ReadableFile> open_for_reading(const fs::path& path, std::uint64_t offset,
                                               std::error_code& ec) {
  // Non-blocking open: a FIFO without a writer must not stall the agent's only thread.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    ec = last_error();
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    ec = last_error();
    return nullptr;
  }
  if (S_ISDIR(st.st_mode)) {
    ec = std::make_error_code(std::errc::is_a_directory);
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {  // FIFOs, devices, sockets: not files to transfer
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    ec = last_error();
    return nullptr;
  }
  if (offset > 0 && ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    ec = last_error();
    return nullptr;
  }
  return std::make_unique<PosixReadableFile>(std::move(fd), static_cast<std::uint64_t>(st.st_size));
}

std::unique_ptr<NewFile> create_new_file(const fs::path& destination, std::error_code& ec) {
  // A destination that is a directory would only fail at the rename: say so now.
  struct stat st {};
  if (::lstat(destination.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    ec = std::make_error_code(std::errc::is_a_directory);
    return nullptr;
  }
  std::string base = destination.filename().string();
  if (base.size() > 120) base.resize(120);  // keep within NAME_MAX with the prefix
  for (int attempt = 0; attempt < 8; ++attempt) {
    fs::path temp = destination.parent_path() / (".remsh-tmp-" + random_hex(6) + "-" + base);
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd) return std::make_unique<PosixNewFile>(std::move(fd), std::move(temp), destination);
    if (errno != EEXIST) {
      ec = last_error();
      return nullptr;
    }
  }
  ec = std::make_error_code(std::errc::file_exists);
  return nullptr;
}

bool make_directories(const fs::path& path, std::optional<std::uint32_t> mode, std::error_code& ec) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) ec = std::make_error_code(std::errc::file_exists);
    return false;
  }
  const fs::path parent = path.parent_path();
  if (!parent.empty() && parent != path) {
    make_directories(parent, std::nullopt, ec);
    if (ec) return false;
  }
  if (::mkdir(path.c_str(), mode ? static_cast<mode_t>(*mode) : 0777) != 0) {
    if (errno == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
    ec = last_error();
    return false;
  }
  // mkdir applies the umask; an explicit mode is what the caller asked for.
  if (mode && ::chmod(path.c_str(), static_cast<mode_t>(*mode)) != 0) ec = last_error();
  return true;
}

bool remove_tree(const fs::path& path, std::error_code& ec) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) ec = last_error();
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    // A read-only directory cannot lose its entries: make it writable (and searchable) first.
    if ((st.st_mode & 0700) != 0700) ::chmod(path.c_str(), (st.st_mode & 07777) | 0700);
    auto names = list_names(path, ec);
    if (ec) return false;
    for (const auto& n : names) {
      remove_tree(path / n, ec);
      if (ec) return false;
    }
    if (::rmdir(path.c_str()) != 0) ec = last_error();
  } else if (::unlink(path.c_str()) != 0) {
    ec = last_error();
  }
  return !ec;
}

void replace_file(const fs::path& from, const fs::path& to, std::error_code& ec) {
  if (::rename(from.c_str(), to.c_str()) != 0) ec = last_error();
}

void set_directory_mode_and_mtime(const fs::path& path, std::uint32_t mode, std::int64_t mtime_ms,
                                  std::error_code& ec) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW));
  if (!fd) return void(ec = last_error());
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return void(ec = last_error());
  const struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(mtime_ms)};
  if (::futimens(fd.get(), times) != 0) ec = last_error();
}

void sync_file_system(const fs::path& path, std::error_code& ec) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY));
  if (!fd) return void(ec = last_error());
  if (::syncfs(fd.get()) != 0) ec = last_error();
}

void make_symlink(const std::string& target, const fs::path& path, std::error_code& ec) {
  if (::symlink(target.c_str(), path.c_str()) != 0) ec = last_error();
}

void set_mode(const fs::path& path, std::uint32_t mode, std::error_code& ec) {
  if (::fchmodat(AT_FDCWD, path.c_str(), static_cast<mode_t>(mode), 0) != 0) ec = last_error();
}

void set_mtime(const fs::path& path, std::int64_t mtime_ms, std::error_code& ec) {
  const struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(mtime_ms)};
  if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) ec = last_error();
}

std::string unusable_name_reason(const fs::path&) { return {}; }

std::string file_error_tag(const std::error_code& ec) {
  if (ec.category() != std::generic_category() && ec.category() != std::system_category()) {
    return "io-error";
  }
  switch (ec.value()) {
    case ENOENT: return "not-found";
    case EEXIST: return "exists";
    case ENOTEMPTY: return "exists";
    case ENOTDIR: return "not-a-directory";
    case EISDIR: return "is-a-directory";
    case EACCES:
    case EPERM:
    case EROFS: return "permission-denied";
    case ENOSPC:
    case EDQUOT: return "disk-full";
    default: return "io-error";
  }
}

}  // namespace remsh::agent
