// Private files (platform/private_file.hpp) with POSIX modes: the temporary file is created
// 0600 by open() itself, so there is no moment at which another user could open it.
#include "platform/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>

namespace remsh::agent {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& path, int err) {
  throw fs::filesystem_error(what, path, std::error_code(err, std::generic_category()));
}

}  // namespace

void create_private_directory(const fs::path& dir) {
  if (fs::is_directory(dir)) return;
  if (dir.has_parent_path() && !dir.parent_path().empty()) fs::create_directories(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail("creating directory", dir, errno);
}

void write_private_file(const fs::path& path, std::string_view contents) {
  fs::path temp = path;
  temp += ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail("creating file", temp, errno);
  // A stale temporary file of ours (same pid) keeps its mode: make sure of 0600.
  if (::fchmod(fd, 0600) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    fail("setting the mode of", temp, err);
  }
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      fail("writing", temp, err);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  int err = ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    fail("writing", temp, err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_err = errno;
    ::unlink(temp.c_str());
    fail("renaming to " + path.string(), temp, rename_err);
  }
}

std::optional<std::string> writable_by_others(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return path.string() + " may be written by other users (mode " + mode + "): chmod go-w " + path.string();
}

}  // namespace remsh::agent
