// Tree archives: a directory tree as one byte stream (docs/protocol.md, "Tree archive").
//
// Uploads (master -> agent) and downloads (agent -> CLI) of whole trees travel as a single
// stream of a channel. The stream is already compressed by the stream codec, so the archive
// itself is not: it is a flat sequence of entry headers, each regular file's header followed
// by its content. Big-endian throughout:
//
//   "RTA1"                                magic
//   then entries, each starting with a type byte:
//   'd' | 'f' | 'l'  u16 path_len (1..4096), path, u32 mode (<= 07777), i64 mtime_ms
//          'f' only: u64 size, then exactly `size` content bytes
//          'l' only: u16 target_len (1..4096), target
//   'E'                                   end of archive: nothing may follow
//
// Both ends decode archives from a peer, so TreeArchiveReader takes hostile bytes split at
// arbitrary points and streams content through without buffering it: a file may be larger
// than memory. It holds at most one header (kTreeMaxHeader bytes).
//
// The format checks each entry on its own (validate_tree_entry); what the entries mean
// together is the extractor's job: duplicates, an entry below a symlink or a file, a parent
// that was not sent, where a symlink points, names the local file system cannot represent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/error.hpp"

namespace remsh::protocol {

enum class TreeEntryType : std::uint8_t { directory = 'd', file = 'f', symlink = 'l' };

struct TreeEntry {
  TreeEntryType type = TreeEntryType::file;
  // Relative, '/'-separated; bytes passed through (UTF-8 by convention, not checked). A
  // backslash is an ordinary byte: POSIX names may contain it, and an agent that cannot
  // represent a name reports that when it extracts the entry.
  std::string path;
  std::uint32_t mode = 0;     // permission bits only (incl. setuid/setgid/sticky), 0..07777
  std::int64_t mtime_ms = 0;  // ms since the Unix epoch, may be negative
  std::uint64_t size = 0;     // files: number of content bytes that follow; else 0
  std::string target;         // symlinks: the link text; else empty
};

inline constexpr std::string_view kTreeArchiveMagic = "RTA1";
inline constexpr std::size_t kTreeMaxPath = 4096;  // bytes, for paths and symlink targets
// The largest header: a symlink with a path and a target of kTreeMaxPath bytes each.
inline constexpr std::size_t kTreeMaxHeader = 1 + 2 + kTreeMaxPath + 4 + 8 + 2 + kTreeMaxPath;

// ---- Writing ----

// The magic; once, first.
void append_tree_archive_start(ByteBuffer& out);
// One entry's header. For a file the caller then appends exactly e.size content bytes
// (in as many pieces as it likes) before the next entry. `e` must pass
// validate_tree_entry: the caller checks entries built from its file system first (a path
// may be too long) and reports them; an invalid entry here is a programming error.
void append_tree_entry(ByteBuffer& out, const TreeEntry& e);
// The end marker; once, last.
void append_tree_archive_end(ByteBuffer& out);

// The rules for one entry, used by writers and by TreeArchiveReader (bad-archive, or
// nullopt):
// - path: 1..kTreeMaxPath bytes, no NUL, not starting with '/', and no component that is
//   empty ("a//b", "a/"), "." or "..". So a path never leaves the tree on its own.
// - mode <= 07777.
// - size is 0 unless a file; target is empty unless a symlink.
// - symlink target: 1..kTreeMaxPath bytes, no NUL. It may be absolute or contain "..":
//   whether a link may point outside the tree, and never writing through one, is the
//   extractor's job.
std::optional<ProtocolError> validate_tree_entry(const TreeEntry& e);

// ---- Reading ----

// Receives what a TreeArchiveReader decodes. Returning an error stops the reader: feed()
// returns that error and the reader is dead.
class TreeArchiveHandler {
 public:
  virtual ~TreeArchiveHandler() = default;
  // The header of any entry, already validated.
  virtual std::optional<ProtocolError> on_entry(const TreeEntry& e) = 0;
  // Content of the file announced last, in order, in non-empty pieces (0..n calls). A piece
  // points into the bytes given to feed(): valid only during the call.
  virtual std::optional<ProtocolError> on_file_data(ByteView bytes) = 0;
  // After the last content byte of a file (right after on_entry for an empty file).
  virtual std::optional<ProtocolError> on_file_end() = 0;
  // The end marker. Bytes after it still make feed() fail: a consumer that commits work
  // here must also undo it when the stream fails later.
  virtual std::optional<ProtocolError> on_archive_end() = 0;
};

class TreeArchiveReader {
 public:
  // Feeds the next bytes of the stream; calls the handler for everything they complete and
  // keeps a partial header (at most kTreeMaxHeader bytes) for the next call. Returns the
  // first error, from the format (bad-archive) or from the handler; after an error the
  // reader is dead and returns that error again without calling the handler.
  std::optional<ProtocolError> feed(ByteView bytes, TreeArchiveHandler& handler);

  // The stream ended: bad-archive unless the end marker was seen (a truncated archive),
  // or the earlier error.
  std::optional<ProtocolError> finish();

  // The end marker was seen; any byte after it is a bad-archive error.
  bool ended() const { return phase_ == Phase::ended; }

 private:
  // What the bytes in pending_ (or, for content, the next bytes) are.
  enum class Phase : std::uint8_t {
    magic,
    type,         // pending_: the type byte of the next entry
    path_length,  // pending_: type, path_len
    fields,       // pending_: the whole header, except a symlink's target
    target,       // pending_: the whole header of a symlink
    content,      // remaining_ content bytes of a file
    ended,
  };

  std::optional<ProtocolError> advance(TreeArchiveHandler& handler);
  std::optional<ProtocolError> complete_header(TreeArchiveHandler& handler);
  void next_entry();
  ProtocolError at_entry(const std::string& what) const;
  std::optional<ProtocolError> fail(ProtocolError error);

  Phase phase_ = Phase::magic;
  std::vector<std::uint8_t> pending_;            // the header (or magic) read so far
  std::size_t need_ = kTreeArchiveMagic.size();  // pending_ bytes that complete the phase
  std::uint64_t remaining_ = 0;                  // content bytes of the current file still to come
  std::uint64_t file_size_ = 0;                  // announced size of the current file
  std::string file_path_;                        // path of the current file, for messages
  std::uint64_t offset_ = 0;                     // stream bytes consumed so far
  std::uint64_t entry_offset_ = 0;               // where the current entry's type byte is
  std::uint64_t entries_ = 0;                    // entries started, the current one included
  std::optional<ProtocolError> failed_;
};

}  // namespace remsh::protocol
