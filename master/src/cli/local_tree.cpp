#include "local_tree.hpp"

#include "cli_error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remsh::cli {

namespace {

constexpr std::size_t kPiece = 256 * 1024;

[[noreturn]] void fail(const std::string& what) {
    const int e = errno;
    throw CliError(e == ENOENT ? "not-found" : e == EACCES ? "permission-denied" : "io-error",
                   what + ": " + std::strerror(e));
}

std::string base_name(std::string path) {
    while (path.size() > 1 && path.back() == '/') {
        path.pop_back();
    }
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool skipped(const LocalEntry& e) { return e.entry.type == protocol::TreeEntryType{}; }

void scan_into(const std::string& dir, const std::string& prefix, std::vector<LocalEntry>& out) {
    for (const std::string& name : sorted_names(dir)) {
        LocalEntry e = local_entry(dir + "/" + name, prefix + name);
        if (skipped(e)) {
            continue;
        }
        const bool is_dir = e.entry.type == protocol::TreeEntryType::directory;
        const std::string location = e.location;
        out.push_back(std::move(e));
        if (is_dir) {
            scan_into(location, prefix + name + "/", out);
        }
    }
}

}  // namespace

std::vector<std::string> sorted_names(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        fail(dir);
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
        std::string_view n(e->d_name);
        if (n != "." && n != "..") {
            names.emplace_back(n);
        }
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::uint32_t local_mode(std::uint32_t agent_mode) {
    static const std::uint32_t mask = [] {
        const mode_t m = ::umask(0);  // umask can only be read by setting it
        ::umask(m);
        return static_cast<std::uint32_t>(m);
    }();
    return agent_mode & 01777 & ~mask;
}

LocalTimes mtime_only(std::int64_t mtime_ms) {
    std::int64_t sec = mtime_ms / 1000, ms = mtime_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        sec -= 1;
    }
    return {{{0, UTIME_OMIT}, {static_cast<time_t>(sec), static_cast<long>(ms * 1000000)}}};
}

LocalEntry local_entry(const std::string& location, const std::string& name) {
    struct stat st {};
    if (::lstat(location.c_str(), &st) != 0) {
        fail(location);
    }
    LocalEntry e;
    e.location = location;
    e.entry.path = name;
    e.entry.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
    e.entry.mtime_ms = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (S_ISREG(st.st_mode)) {
        e.entry.type = protocol::TreeEntryType::file;
        e.entry.size = static_cast<std::uint64_t>(st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
        e.entry.type = protocol::TreeEntryType::directory;
    } else if (S_ISLNK(st.st_mode)) {
        e.entry.type = protocol::TreeEntryType::symlink;
        std::string target(static_cast<std::size_t>(st.st_size) + 256, '\0');
        const ssize_t n = ::readlink(location.c_str(), target.data(), target.size());
        if (n < 0) {
            fail(location);
        }
        target.resize(static_cast<std::size_t>(n));
        e.entry.target = std::move(target);
    } else {
        e.entry.type = protocol::TreeEntryType{};  // a socket, a device: not transferred
    }
    return e;
}

std::vector<LocalEntry> scan_local_tree(const std::string& root) {
    std::vector<LocalEntry> out;
    LocalEntry top = local_entry(root, base_name(root));
    if (top.entry.type == protocol::TreeEntryType::directory) {
        scan_into(root, "", out);
    } else if (!skipped(top)) {
        out.push_back(std::move(top));
    }
    return out;
}

LocalTreeSource::LocalTreeSource(std::vector<LocalEntry> entries) : entries_(std::move(entries)) {}

LocalTreeSource::~LocalTreeSource() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

std::string LocalTreeSource::next_piece() {
    if (ended_) {
        return {};
    }
    protocol::ByteBuffer out;
    if (!started_) {
        protocol::append_tree_archive_start(out);
        started_ = true;
    }
    while (out.size() < kPiece) {
        if (fd_ >= 0) {
            // Exactly the size the header announced: a file that grew is cut there, one that
            // shrank cannot be sent.
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece - out.size(), left_));
            std::uint8_t* into = out.grow_back(want);
            ssize_t n = 0;
            do {
                n = ::read(fd_, into, want);
            } while (n < 0 && errno == EINTR);
            if (n <= 0) {
                out.shrink_back(want);
                const std::string where = entries_[next_ - 1].location;
                if (n == 0) {
                    throw CliError("io-error", where + " shrank while being sent");
                }
                fail(where);
            }
            out.shrink_back(want - static_cast<std::size_t>(n));
            left_ -= static_cast<std::uint64_t>(n);
            content_bytes_ += static_cast<std::uint64_t>(n);
            if (left_ == 0) {
                ::close(fd_);
                fd_ = -1;
            }
            continue;
        }
        if (next_ == entries_.size()) {
            protocol::append_tree_archive_end(out);
            ended_ = true;
            break;
        }
        const LocalEntry& e = entries_[next_++];
        if (auto invalid = protocol::validate_tree_entry(e.entry)) {  // a name the format cannot carry
            throw CliError("io-error", e.location + ": cannot be sent: " + invalid->message);
        }
        if (e.entry.type == protocol::TreeEntryType::file && e.entry.size > 0) {
            fd_ = ::open(e.location.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd_ < 0) {
                fail(e.location);
            }
            left_ = e.entry.size;
        }
        protocol::append_tree_entry(out, e.entry);
    }
    return std::string(protocol::as_chars(out.view()));
}

}  // namespace remsh::cli
