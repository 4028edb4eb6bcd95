// What `remsh sync LOCAL AGENT:DIR` must send and delete, from the two sides' manifests:
// a file goes when it is new, its type, size or mode differ, or its content does (by sha256);
// a symlink when it is new or points elsewhere; a directory when it is new or its mode differs.
// Unchanged entries, whatever their mtimes, are not sent. With --delete, the remote entries the
// local tree lacks are removed (only the top-most of a removed subtree is named; nothing
// below a remote directory that the upload replaces with a file or a link).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace remsh::cli {

struct ManifestEntry {
    std::string path;  // relative, '/'-separated
    std::string type;  // file, directory, symlink, other
    std::uint64_t size = 0;
    std::uint32_t mode = 0;
    std::string sha256;  // files (remote manifest; local ones are hashed on demand)
    std::string target;  // symlinks
    std::int64_t mtime_ms = 0;  // shown by ls; not compared
};

struct SyncPlan {
    std::vector<std::size_t> send;    // indexes into the local entries, in their order
    std::vector<std::string> remove;  // remote paths
    // Remote directories that a local file or link of the same path replaces, with all they
    // hold (the upload does it): a deletion too, so only with --delete.
    std::vector<std::string> replace;
    std::uint64_t bytes = 0;          // file bytes to send
    std::uint64_t hashed = 0;         // local files whose content had to be compared
};

// `local_sha256(i)` hashes local entry i; it is called only for files whose type, size and
// mode match the remote one.
SyncPlan plan_sync(const std::vector<ManifestEntry>& local, const std::vector<ManifestEntry>& remote,
                   bool delete_extra, const std::function<std::string(std::size_t)>& local_sha256);

}  // namespace remsh::cli
