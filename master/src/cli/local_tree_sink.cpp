#include "local_tree_sink.hpp"

#include "cli_error.hpp"
#include "copy_conflicts.hpp"
#include "file_spec.hpp"
#include "local_tree.hpp"

#include <cerrno>
#include <cstring>
#include <vector>


#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remsh::cli {

using protocol::ErrorTag;
using protocol::ProtocolError;
using protocol::TreeEntryType;

namespace {

ProtocolError os_error(const std::string& what) {
    const int e = errno;
    ErrorTag tag = ErrorTag::io_error;
    if (e == ENOSPC || e == EDQUOT) {
        tag = ErrorTag::disk_full;
    } else if (e == EACCES || e == EPERM) {
        tag = ErrorTag::permission_denied;
    } else if (e == ENOENT) {
        tag = ErrorTag::not_found;
    }
    return {tag, what + ": " + std::strerror(e)};
}

void set_times(const std::string& path, std::int64_t mtime_ms) {
    const LocalTimes t = mtime_only(mtime_ms);
    ::utimensat(AT_FDCWD, path.c_str(), t.times, AT_SYMLINK_NOFOLLOW);  // best effort
}

}  // namespace

LocalTreeSink::LocalTreeSink(std::string root) : root_(std::move(root)) {
    if (::mkdir(root_.c_str(), 0777) != 0 && errno != EEXIST) {
        throw CliError(errno == ENOENT ? "not-found" : "io-error", root_ + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::stat(root_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw CliError("not-a-directory", root_ + " is not a directory");
    }
}

LocalTreeSink::~LocalTreeSink() { discard_file(); }

void LocalTreeSink::discard_file() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
        ::unlink(temp_.c_str());
    }
}

// Every directory on the way must be a real directory (lstat): a symlink sent earlier in the
// archive could otherwise carry a later entry anywhere.
std::optional<ProtocolError> LocalTreeSink::check_parent(const std::string& relative) const {
    std::string path = root_;
    std::size_t start = 0;
    for (;;) {
        const auto slash = relative.find('/', start);
        if (slash == std::string::npos) {
            return std::nullopt;
        }
        path += "/" + relative.substr(start, slash - start);
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            if (errno == ENOENT && ::mkdir(path.c_str(), 0777) == 0) {  // a parent not sent: make it
                start = slash + 1;
                continue;
            }
            return os_error(path);
        }
        if (!S_ISDIR(st.st_mode)) {
            return ProtocolError{ErrorTag::path_outside_workdir,
                                 relative + ": " + path + " is not a directory (a symlink in the archive?)"};
        }
        start = slash + 1;
    }
}

std::optional<ProtocolError> LocalTreeSink::on_entry(const protocol::TreeEntry& e) {
    ++entries_;
    skipping_file_ = false;
    if (!left_out_below_.empty() && e.path.compare(0, left_out_below_.size(), left_out_below_) == 0) {
        skipping_file_ = e.type == TreeEntryType::file;
        return std::nullopt;
    }
    left_out_below_.clear();
    const auto slash_at = e.path.rfind('/');
    const std::string directory = slash_at == std::string::npos ? std::string() : e.path.substr(0, slash_at);
    const bool in_checked_directory = e.type == TreeEntryType::file && checked_directory_ == directory;
    checked_directory_.reset();
    if (!in_checked_directory) {
        if (auto error = check_parent(e.path)) {
            return error;
        }
    }
    const std::string path = root_ + "/" + e.path;
    struct stat st {};
    const bool exists = ::lstat(path.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode) != (e.type == TreeEntryType::directory)) {
        // Left as it is (copy_conflicts.hpp), with all the archive has below it.
        refusals_.push_back(overwrite_refusal(path, S_ISDIR(st.st_mode)));
        if (e.type == TreeEntryType::directory) {
            left_out_below_ = e.path + "/";
        }
        skipping_file_ = e.type == TreeEntryType::file;
        return std::nullopt;
    }
    switch (e.type) {
        case TreeEntryType::directory:
            if (!exists && ::mkdir(path.c_str(), 0700) != 0) {
                return os_error(path);
            }
            ::chmod(path.c_str(), 0700);
            directories_.push_back({e.path, e.mode, e.mtime_ms});
            return std::nullopt;
        case TreeEntryType::symlink:
            if (exists && ::unlink(path.c_str()) != 0) {
                return os_error(path);
            }
            if (::symlink(e.target.c_str(), path.c_str()) != 0) {
                return os_error(path);
            }
            set_times(path, e.mtime_ms);
            return std::nullopt;
        case TreeEntryType::file: {
            temp_ = temp_name_beside(path);
            fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (fd_ < 0) {
                return os_error(path);
            }
            final_ = path;
            current_ = e;
            checked_directory_ = directory;
            return std::nullopt;
        }
    }
    return ProtocolError{ErrorTag::bad_archive, "unknown entry type"};
}

std::optional<ProtocolError> LocalTreeSink::on_file_data(protocol::ByteView bytes) {
    if (skipping_file_) {
        return std::nullopt;
    }
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            auto error = os_error(final_);
            discard_file();
            return error;
        }
        done += static_cast<std::size_t>(n);
    }
    bytes_ += bytes.size();
    return std::nullopt;
}

std::optional<ProtocolError> LocalTreeSink::on_file_end() {
    if (skipping_file_) {
        skipping_file_ = false;
        return std::nullopt;
    }
    if (::fchmod(fd_, local_mode(current_.mode)) != 0 || ::close(fd_) != 0) {
        auto error = os_error(final_);
        fd_ = -1;
        ::unlink(temp_.c_str());
        return error;
    }
    fd_ = -1;
    set_times(temp_, current_.mtime_ms);
    if (::rename(temp_.c_str(), final_.c_str()) != 0) {
        auto error = os_error(final_);
        ::unlink(temp_.c_str());
        return error;
    }
    return std::nullopt;
}

std::optional<ProtocolError> LocalTreeSink::on_archive_end() {
    // Deepest first (a parent's mtime after its children changed it). Each path is checked
    // again and changed through a descriptor that does not follow a link: whatever the archive
    // did meanwhile, a mode never lands outside the destination.
    for (auto it = directories_.rbegin(); it != directories_.rend(); ++it) {
        if (auto error = check_parent(it->path)) {
            return error;
        }
        const std::string path = root_ + "/" + it->path;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW);
        if (fd < 0) {
            return os_error(path);
        }
        const LocalTimes t = mtime_only(it->mtime_ms);
        const bool ok = ::fchmod(fd, local_mode(it->mode)) == 0 && ::futimens(fd, t.times) == 0;
        ::close(fd);
        if (!ok) {
            return os_error(path);
        }
    }
    return std::nullopt;
}

}  // namespace remsh::cli
