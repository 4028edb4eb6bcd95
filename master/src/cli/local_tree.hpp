// The local side of tree transfers (`remsh cp -r`, `remsh sync`): scanning a local directory
// into entries, and turning entries into a tree archive (docs/protocol.md 9.7) piece by piece,
// reading each file only when its bytes are due.
#pragma once

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/tree_archive.hpp"

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace remsh::cli {

struct LocalEntry {
    protocol::TreeEntry entry;  // path relative to the scanned root
    std::string location;       // the local path to read from
};

// The names in a local directory (no "." and ".."), sorted bytewise; throws CliError.
std::vector<std::string> sorted_names(const std::string& dir);

// What a mode from an agent becomes here: without setuid/setgid and through the umask (read
// once per process), as tar does for a user who is not root.
std::uint32_t local_mode(std::uint32_t agent_mode);
// A modification time in ms since the epoch as the second element of futimens/utimensat's
// pair (the first, the access time, is left alone).
struct LocalTimes {
    struct timespec times[2];
};
LocalTimes mtime_only(std::int64_t mtime_ms);

// lstat() of one path as an entry named `name`; throws CliError (not-found, io-error).
LocalEntry local_entry(const std::string& location, const std::string& name);

// The tree under `root` in the protocol's order (names sorted bytewise, a directory before its
// contents). A directory yields its contents; a file or symlink yields itself under its base
// name. Sockets and devices are skipped. Throws CliError.
std::vector<LocalEntry> scan_local_tree(const std::string& root);

class LocalTreeSource {
public:
    explicit LocalTreeSource(std::vector<LocalEntry> entries);
    ~LocalTreeSource();
    LocalTreeSource(const LocalTreeSource&) = delete;
    LocalTreeSource& operator=(const LocalTreeSource&) = delete;

    // The next piece of the archive (at most about 256 KiB), "" after the end marker went out.
    // Throws CliError when a file cannot be read or changed size meanwhile.
    std::string next_piece();
    std::uint64_t content_bytes() const { return content_bytes_; }  // file bytes so far

private:
    std::vector<LocalEntry> entries_;
    std::size_t next_ = 0;
    int fd_ = -1;                 // the file whose content is being sent
    std::uint64_t left_ = 0;      // its bytes still to send
    bool started_ = false;
    bool ended_ = false;
    std::uint64_t content_bytes_ = 0;
};

}  // namespace remsh::cli
