#include "storage/log_files.hpp"

#include "storage/storage.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remsh::master {

namespace {

// Enough for every command that streams at once on a busy master; beyond it the least
// recently used file is closed and opened again when its command writes or is read.
constexpr std::size_t kMaxOpen = 64;
// Writeback of a fast stream starts at this size, so that a large log does not pile up as
// dirty pages and then stall everything writing to the disk at once.
constexpr std::uint64_t kWritebackChunk = 8 << 20;

[[noreturn]] void fail(const std::string& what, int err) {
    throw StorageError(storage_tag::error, what + ": " + std::strerror(err));
}

}  // namespace

LogFiles::LogFiles(std::string dir) : dir_(std::move(dir)) {
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
        fail("cannot create the log directory " + dir_, errno);
    }
}

LogFiles::~LogFiles() {
    for (auto& [id, file] : open_) {
        ::close(file.fd);
    }
}

std::string LogFiles::path_of(std::int64_t command_id) const {
    return dir_ + "/" + std::to_string(command_id) + ".log";
}

LogFiles::OpenFile* LogFiles::open(std::int64_t command_id, bool create) {
    if (auto it = open_.find(command_id); it != open_.end()) {
        it->second.last_used = ++uses_;
        return &it->second;
    }
    const std::string path = path_of(command_id);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0) {
        if (errno == ENOENT && !create) {
            return nullptr;
        }
        fail("cannot open the log file " + path, errno);
    }
    if (open_.size() >= kMaxOpen) {
        auto oldest = open_.begin();
        for (auto it = open_.begin(); it != open_.end(); ++it) {
            if (it->second.last_used < oldest->second.last_used) {
                oldest = it;
            }
        }
        ::close(oldest->second.fd);
        open_.erase(oldest);
    }
    OpenFile& file = open_[command_id];
    file.fd = fd;
    file.last_used = ++uses_;
    return &file;
}

std::uint64_t LogFiles::end_of(std::int64_t command_id) {
    const OpenFile* file = open(command_id, false);
    if (file == nullptr) {
        return 0;
    }
    struct stat st {};
    if (::fstat(file->fd, &st) != 0) {
        fail("cannot stat the log file " + path_of(command_id), errno);
    }
    return static_cast<std::uint64_t>(st.st_size);
}

void LogFiles::write_at(std::int64_t command_id, std::uint64_t offset,
                        std::span<const std::uint8_t> bytes) {
    OpenFile* file = open(command_id, true);
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::pwrite(file->fd, bytes.data() + done, bytes.size() - done,
                                   static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("cannot write the log file " + path_of(command_id), errno);
        }
        done += static_cast<std::size_t>(n);
    }
    file->unflushed += bytes.size();
    if (file->unflushed >= kWritebackChunk) {
#if defined(__linux__)
        ::sync_file_range(file->fd, 0, 0, SYNC_FILE_RANGE_WRITE);  // a hint: errors show at read
#endif
        file->unflushed = 0;
    }
}

std::vector<std::uint8_t> LogFiles::read(std::int64_t command_id, std::uint64_t offset,
                                         std::uint64_t length) {
    const std::string path = path_of(command_id);
    OpenFile* file = open(command_id, false);
    if (file == nullptr) {
        throw StorageError(storage_tag::error, "the log file " + path + " is missing");
    }
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(length));
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::pread(file->fd, bytes.data() + done, bytes.size() - done,
                                  static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("cannot read the log file " + path, errno);
        }
        if (n == 0) {
            throw StorageError(storage_tag::error,
                               "the log file " + path + " ends at byte " + std::to_string(offset + done) +
                                   ", before the end of a stored chunk (" +
                                   std::to_string(offset + length) + "): the disk lost data");
        }
        done += static_cast<std::size_t>(n);
    }
    return bytes;
}

}  // namespace remsh::master
