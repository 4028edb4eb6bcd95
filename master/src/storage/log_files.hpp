// The bytes of large log chunks: one append-only file per command, DIR/<command id>.log.
// SQLite keeps each chunk's index row (where in the file, how long). Kept inside SQLite,
// every stored byte was written to the WAL, read back and written again by the checkpoint;
// here it is written once, which is most of what storing a fast stream costs the master.
//
// Durability: bytes are written before the index rows that point at them are committed, so
// a master crash never leaves a row without its bytes (the orphan bytes of a batch that did
// not commit are never pointed at). Writeback starts every few MiB; after a power loss, a
// row whose bytes did not reach the disk reads as a "storage-error", never as short data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace remsh::master {

class LogFiles {
public:
    // Creates `dir` (mode 0700) if it is missing. Throws StorageError.
    explicit LogFiles(std::string dir);
    ~LogFiles();
    LogFiles(const LogFiles&) = delete;
    LogFiles& operator=(const LogFiles&) = delete;

    // Where the next append to the command's file starts: its current size (0 if none).
    std::uint64_t end_of(std::int64_t command_id);
    void write_at(std::int64_t command_id, std::uint64_t offset, std::span<const std::uint8_t> bytes);
    // Exactly `length` bytes; a file shorter than that is a "storage-error".
    std::vector<std::uint8_t> read(std::int64_t command_id, std::uint64_t offset, std::uint64_t length);

private:
    struct OpenFile {
        int fd = -1;
        std::uint64_t last_used = 0;
        std::uint64_t unflushed = 0;  // written since writeback was last started
    };
    // Null when the file does not exist and `create` is false.
    OpenFile* open(std::int64_t command_id, bool create);
    std::string path_of(std::int64_t command_id) const;

    std::string dir_;
    std::map<std::int64_t, OpenFile> open_;  // at most kMaxOpen, least recently used closed first
    std::uint64_t uses_ = 0;
};

}  // namespace remsh::master
