// `remsh cp [-r] SRC DST`: copies between this machine and an agent (scp-like operands), or
// within one agent. Files go through the agent's `write` (temporary name, verified by size and
// sha256, then renamed; a large file is verified here, then renamed with `rename`) and `read`;
// trees through `put_tree` / `get_tree` as one stream.
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "copy_conflicts.hpp"
#include "exit_codes.hpp"
#include "file_digest.hpp"
#include "file_spec.hpp"
#include "fs_call.hpp"
#include "json_access.hpp"
#include "local_tree.hpp"
#include "local_tree_sink.hpp"
#include "output_sink.hpp"
#include "progress.hpp"
#include "remote_fs.hpp"
#include "remsh/protocol/name_field.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t kPiece = 256 * 1024;

[[noreturn]] void local_failure(const std::string& what) {
    const int e = errno;
    throw CliError(e == ENOENT ? "not-found" : e == ENOSPC ? "disk-full" : e == EACCES ? "permission-denied" : "io-error",
                   what + ": " + std::strerror(e));
}

std::optional<struct stat> local_stat(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        local_failure(path);
    }
    return st;
}

std::int64_t mtime_ms_of(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// A downloaded file: written under a temporary name beside its destination and renamed over
// it by commit() (removed if never committed); or, for a device or FIFO that exists there,
// written into it as cp does (`remsh cp a1:log /dev/null` must not replace /dev/null).
class LocalNewFile {
public:
    enum class Kind { replace, in_place };

    LocalNewFile(std::string destination, Kind kind) : destination_(std::move(destination)), kind_(kind) {
        if (kind_ == Kind::in_place) {
            fd_ = ::open(destination_.c_str(), O_WRONLY | O_CLOEXEC);
        } else {
            temp_ = temp_name_beside(destination_);
            fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        }
        if (fd_ < 0) {
            local_failure(destination_);
        }
    }
    ~LocalNewFile() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        if (!committed_ && kind_ == Kind::replace) {
            ::unlink(temp_.c_str());
        }
    }
    void write(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                local_failure(destination_);
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    void commit(std::uint32_t mode, std::int64_t mtime_ms) {
        if (kind_ == Kind::in_place) {  // a device keeps its own mode and times
            const int fd = std::exchange(fd_, -1);
            if (::close(fd) != 0) {
                local_failure(destination_);
            }
            committed_ = true;
            return;
        }
        const LocalTimes t = mtime_only(mtime_ms);
        if (::fchmod(fd_, mode) != 0 || ::futimens(fd_, t.times) != 0 || ::close(fd_) != 0) {
            fd_ = -1;
            local_failure(destination_);
        }
        fd_ = -1;
        if (::rename(temp_.c_str(), destination_.c_str()) != 0) {
            local_failure(destination_);
        }
        committed_ = true;
    }

private:
    std::string destination_;
    Kind kind_;
    std::string temp_;
    int fd_ = -1;
    bool committed_ = false;
};

// Where a downloaded file goes, as cp has it: into a directory under its own name; through a
// symlink to the link's target (the link stays; a dangling one is refused); into a device or
// FIFO as it is. A socket or the like is refused.
struct DownloadTarget {
    std::string path;
    LocalNewFile::Kind kind = LocalNewFile::Kind::replace;
};

DownloadTarget download_target(std::string local, const std::string& remote, bool joined = false) {
    if (local.size() > 1 && local.back() == '/') {
        const std::size_t end = local.find_last_not_of('/');
        const auto st = local_stat(end == std::string::npos ? "/" : local.substr(0, end + 1));
        if (!st) {
            throw CliError("not-found", local + ": no such directory");
        }
        if (!S_ISDIR(st->st_mode)) {
            throw CliError("not-a-directory", local + ": not a directory");
        }
    }
    const auto st = local_stat(local);  // a symlink's target: the same after realpath
    struct stat link {};
    if (::lstat(local.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
        if (!st) {
            throw CliError("not-found", local + ": not writing through a dangling symlink");
        }
        if (!S_ISDIR(st->st_mode)) {
            char* real = ::realpath(local.c_str(), nullptr);
            if (real == nullptr) {
                local_failure(local);
            }
            local = real;
            std::free(real);
        }
    }
    if (st && S_ISDIR(st->st_mode)) {
        if (joined) {
            throw CliError("is-a-directory", local + ": is a directory (not replaced by a file)");
        }
        return download_target(path_join(local, path_base_name(remote)), remote, true);
    }
    if (!st || S_ISREG(st->st_mode)) {
        return {std::move(local), LocalNewFile::Kind::replace};
    }
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode)) {
        return {std::move(local), LocalNewFile::Kind::in_place};
    }
    throw CliError("exists", local + ": exists and is neither a file, a directory nor a device");
}

// A file up to this size is hashed before it is sent, and the agent checks the digest
// before the file takes its name. A larger one is hashed as it is sent: hashing 1 GiB first
// kept the link idle for 0.8 s of a 3.6 s upload. It is written under a temporary name and
// renamed over its destination only once the agent's digest of what it stored matches ours.
constexpr std::uint64_t kHashFirstUpTo = 16 << 20;

bool same_file_state(const struct stat& a, const struct stat& b) {
    return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
           a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

net::awaitable<void> upload_file(ApiClient& api, const std::string& local, const struct stat& st,
                                 const std::string& agent, std::string remote) {
    const RemoteInfo dest = co_await remote_stat(api, agent, remote);
    const bool into_directory = dest.exists && dest.type == "directory";
    if (into_directory) {
        remote = path_join(remote, path_base_name(local));
    }
    if (!into_directory && remote.size() > 1 && remote.back() == '/') {  // as cp: `a:new/` must be a directory
        throw dest.exists ? CliError("not-a-directory", agent + ":" + remote + ": not a directory")
                          : CliError("not-found", agent + ":" + remote + ": no such directory");
    }
    const int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        local_failure(local);
    }
    struct CloseFd {
        int fd;
        ~CloseFd() { ::close(fd); }
    } closer{fd};
    struct stat opened {};
    if (::fstat(fd, &opened) != 0) {
        local_failure(local);
    }
    std::uint64_t size = static_cast<std::uint64_t>(opened.st_size);
    const bool hash_first = size <= kHashFirstUpTo;
    std::string announced;
    if (hash_first) {
        announced = file_sha256(local, &size);
    } else if (into_directory && (co_await remote_stat(api, agent, remote)).type == "directory") {
        // `write` would refuse at once; the rename would refuse only after the whole transfer.
        throw CliError("is-a-directory", remote + ": is a directory on " + agent);
    }
    const std::string target = hash_first ? remote : temp_name_beside(remote);
    Digest sent_digest;
    Progress progress(path_base_name(local), size);
    FsCall call;
    call.request = fs_request(agent, "write", target);
    call.request["size"] = size;
    if (hash_first) {
        call.request["sha256"] = announced;
    }
    call.request["mode"] = static_cast<std::uint32_t>(st.st_mode & 07777);
    call.request["mtime_ms"] = mtime_ms_of(st);
    std::uint64_t sent = 0;
    call.next_piece = [&](std::string& message) {
        // Exactly `size` bytes: a file that grew meanwhile is cut there, and one that changed
        // fails verification (the digest taken first, or the file's state after sending).
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, size - sent));
        if (want == 0) {
            return;
        }
        const std::size_t at = message.size();
        message.resize(at + want);
        ssize_t n = 0;
        do {
            n = ::pread(fd, message.data() + at, want, static_cast<off_t>(sent));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            local_failure(local);
        }
        if (n == 0) {
            throw CliError("io-error", local + " shrank while being sent");
        }
        message.resize(at + static_cast<std::size_t>(n));
        if (!hash_first) {
            sent_digest.update(std::string_view(message).substr(at));
        }
        sent += static_cast<std::uint64_t>(n);
        progress.add(static_cast<std::uint64_t>(n));
    };
    std::exception_ptr failure;
    try {
        const json::object result = co_await fs_call(api, std::move(call));
        progress.finish();
        if (!hash_first) {
            struct stat after {};
            if (::fstat(fd, &after) != 0) {
                local_failure(local);
            }
            if (!same_file_state(opened, after)) {
                throw CliError("verify-failed", local + " changed while being sent");
            }
        }
        if (get_string(json::value(result), "sha256") != (hash_first ? announced : sent_digest.hex())) {
            throw CliError("verify-failed", "the agent stored different bytes than were sent");
        }
        if (!hash_first) {
            FsCall rename;
            rename.request = fs_request(agent, "rename", target);
            protocol::put_name(rename.request, "to", remote);
            co_await fs_call(api, std::move(rename));
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure && hash_first) {
        std::rethrow_exception(failure);  // the agent checked the digest: nothing took the name
    }
    if (failure) {
        // Nothing of a failed upload stays behind, as when the agent's own check fails. If
        // the write itself failed, the agent removed its file and this finds nothing. An
        // interrupted upload cleans up too: the cancellation ends with the write.
        co_await net::this_coro::reset_cancellation_state();
        FsCall remove;
        remove.request = fs_request(agent, "remove", target);
        std::string left_over;
        try {
            co_await fs_call(api, std::move(remove));
        } catch (const CliError& e) {
            left_over = e.tag + ": " + e.what();
        }
        if (!left_over.empty()) {
            std::fprintf(stderr, "remsh: %s:%s may be left over: %s\n", agent.c_str(), target.c_str(),
                         left_over.c_str());
        }
        std::rethrow_exception(failure);
    }
}

net::awaitable<void> download_file(ApiClient& api, const std::string& agent, const std::string& remote,
                                   RemoteInfo info, const std::string& local) {
    const DownloadTarget target = download_target(local, remote);
    if (info.type == "symlink") {
        // The file's own mode and mtime, not the link's: a listing of the path follows it.
        const auto entries = co_await remote_entries(api, agent, remote, "list", false);
        if (entries.size() == 1) {
            info.mode = entries.front().mode;
            info.mtime_ms = entries.front().mtime_ms;
            info.type = entries.front().type;
        }
    }
    LocalNewFile out(target.path, target.kind);
    Digest digest;
    std::uint64_t received = 0;
    Progress progress(path_base_name(remote), info.size);
    FsCall call;
    call.request = fs_request(agent, "read", remote);
    call.on_data = [&](std::uint8_t stream, std::string_view bytes) {
        if (stream != 4) {
            return;
        }
        out.write(bytes);
        digest.update(bytes);
        received += bytes.size();
        progress.add(bytes.size());
    };
    const json::object result = co_await fs_call(api, std::move(call));
    progress.finish();
    const json::value r(result);
    if (get_int(r, "size").value_or(-1) != static_cast<std::int64_t>(received) || get_string(r, "sha256") != digest.hex()) {
        throw CliError("verify-failed", "the bytes received from the agent do not match its digest");
    }
    const std::uint32_t mode = local_mode(info.type == "file" ? info.mode : 0666);
    out.commit(mode, info.type == "file" ? info.mtime_ms : 0);
}

// Both ways, into an existing directory, nothing there changes type (copy_conflicts.hpp):
// what would is left as it is, and returned as refusals.
net::awaitable<std::vector<std::string>> upload_tree(ApiClient& api, const std::string& local, const std::string& agent,
                                                     std::string remote) {
    const RemoteInfo dest = co_await remote_stat(api, agent, remote);
    std::vector<LocalEntry> entries = scan_local_tree(local);
    std::vector<std::string> refusals;
    if (dest.exists && dest.type == "directory") {
        remote = path_join(remote, path_base_name(local));  // like cp -r into an existing directory
        const RemoteInfo there = co_await remote_stat(api, agent, remote);
        if (there.exists && there.type != "directory") {
            throw CliError("exists", overwrite_refusal(agent + ":" + remote, false));
        }
        if (there.exists) {
            UploadSelection selection =
                select_upload(std::move(entries), co_await remote_entries(api, agent, remote, "list", true), agent + ":" + remote);
            entries = std::move(selection.send);
            refusals = std::move(selection.refusals);
            if (entries.empty() && !refusals.empty()) {
                co_return refusals;
            }
        }
    } else if (dest.exists) {
        throw CliError("not-a-directory", agent + ":" + remote + " exists and is not a directory");
    }
    co_await put_local_tree(api, agent, remote, std::move(entries), /*parents=*/false, path_base_name(local));
    co_return refusals;
}

net::awaitable<std::vector<std::string>> download_tree(ApiClient& api, const std::string& agent, const std::string& remote,
                                                       std::string local) {
    if (auto st = local_stat(local); st && S_ISDIR(st->st_mode)) {
        local = path_join(local, path_base_name(remote));
        const auto target = local_stat(local);  // a link to a directory is written through, as cp does
        struct stat there {};
        if (::lstat(local.c_str(), &there) == 0 && !(target && S_ISDIR(target->st_mode))) {
            throw CliError("exists", overwrite_refusal(local, false));
        }
    } else if (st) {
        throw CliError("not-a-directory", local + " exists and is not a directory");
    }
    LocalTreeSink sink(local);
    protocol::TreeArchiveReader reader;
    Progress progress(path_base_name(remote), 0);
    FsCall call;
    call.request = fs_request(agent, "get_tree", remote);
    call.on_data = [&](std::uint8_t stream, std::string_view bytes) {
        if (stream != 4) {
            return;
        }
        if (auto e = reader.feed(protocol::as_bytes(bytes), sink)) {
            throw CliError(std::string(protocol::tag_name(e->tag)), e->message);
        }
        progress.add(bytes.size());
    };
    co_await fs_call(api, std::move(call));
    progress.finish();
    if (auto e = reader.finish()) {
        throw CliError(std::string(protocol::tag_name(e->tag)), e->message);
    }
    co_return sink.refusals();
}

}  // namespace

int cp_command(const ConnectionSettings& settings, const CpOptions& options) {
    const FileSpec from = parse_file_spec(options.source);
    const FileSpec to = parse_file_spec(options.destination);
    if (!from.remote() && !to.remote()) {
        print_error("usage", "neither SRC nor DST is AGENT:PATH (for local copies use cp)");
        return exit_usage;
    }
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        if (from.remote() && to.remote()) {
            if (*from.agent != *to.agent) {
                throw CliError("unsupported", "copying between two agents is not supported; copy through this machine");
            }
            FsCall call;
            call.request = fs_request(*from.agent, "copy", from.path);
            protocol::put_name(call.request, "to", to.path);
            co_await fs_call(api, std::move(call));
            co_return exit_ok;
        }
        if (to.remote()) {
            const auto st = local_stat(from.path);
            if (!st) {
                throw CliError("not-found", from.path + ": no such file or directory");
            }
            if (S_ISDIR(st->st_mode)) {
                if (!options.recursive) {
                    throw CliError("is-a-directory", from.path + " is a directory (use -r)");
                }
                const auto refusals = co_await upload_tree(api, from.path, *to.agent, to.path);
                print_refusals(refusals);
                co_return refusals.empty() ? exit_ok : exit_error;
            } else {
                co_await upload_file(api, from.path, *st, *to.agent, to.path);
            }
            co_return exit_ok;
        }
        const RemoteInfo info = co_await remote_stat(api, *from.agent, from.path);
        if (!info.exists) {
            throw CliError("not-found", *from.agent + ":" + from.path + " does not exist");
        }
        if (info.type == "directory") {
            if (!options.recursive) {
                throw CliError("is-a-directory", *from.agent + ":" + from.path + " is a directory (use -r)");
            }
            const auto refusals = co_await download_tree(api, *from.agent, from.path, to.path);
            print_refusals(refusals);
            co_return refusals.empty() ? exit_ok : exit_error;
        } else {
            co_await download_file(api, *from.agent, from.path, info, to.path);
        }
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
