// LocalTreeSink: extracts a tree archive from an agent (`remsh cp -r AGENT:DIR LOCAL`) into a
// local directory as it arrives. The agent is not trusted with the local file system: entry
// paths are checked by the archive reader (relative, no `..`), and every entry's parent must
// be a real directory inside the destination (never a symlink the archive made), so nothing is
// written outside it. Files are written under a temporary name and renamed when complete;
// directory modes and mtimes are applied at the end. Modes lose setuid/setgid and pass through
// the local umask, as tar does for a user who is not root: an agent cannot plant a setuid
// program or a world-writable file here. A directory there is never replaced by a file or a
// link, nor a file or a link by a directory: such an entry is left out (refusals()).
#pragma once

#include "remsh/protocol/tree_archive.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace remsh::cli {

class LocalTreeSink : public protocol::TreeArchiveHandler {
public:
    // `root` is created if missing (its parent must exist).
    explicit LocalTreeSink(std::string root);
    ~LocalTreeSink() override;

    std::optional<protocol::ProtocolError> on_entry(const protocol::TreeEntry& e) override;
    std::optional<protocol::ProtocolError> on_file_data(protocol::ByteView bytes) override;
    std::optional<protocol::ProtocolError> on_file_end() override;
    std::optional<protocol::ProtocolError> on_archive_end() override;

    std::uint64_t entries() const { return entries_; }
    // Entries left as they were, with why (copy_conflicts.hpp): a directory where the archive
    // has a file or a link, or the other way round.
    const std::vector<std::string>& refusals() const { return refusals_; }
    std::uint64_t bytes() const { return bytes_; }

private:
    struct DirectoryFix {
        std::string path;  // relative to root_: checked again when applied
        std::uint32_t mode;
        std::int64_t mtime_ms;
    };
    std::optional<protocol::ProtocolError> check_parent(const std::string& relative) const;
    void discard_file();

    std::string root_;
    int fd_ = -1;
    std::string temp_;
    std::string final_;
    protocol::TreeEntry current_;
    std::vector<DirectoryFix> directories_;
    // The directory (relative, as the archive named it) the last file went into, checked
    // then: the files of one directory come together, and a file entry cannot turn a
    // directory on the way into a link. Forgotten at any other entry, or a removal.
    std::optional<std::string> checked_directory_;
    std::vector<std::string> refusals_;
    std::string left_out_below_;   // "x/" after directory x was left out (archives are pre-order)
    bool skipping_file_ = false;   // the current file's content goes nowhere
    std::uint64_t entries_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace remsh::cli
