#include "remsh/protocol/tree_archive.hpp"

#include <algorithm>
#include <cassert>
#include <string>

namespace remsh::protocol {
namespace {

constexpr std::uint8_t kEndMarker = 'E';
constexpr std::uint32_t kMaxMode = 07777;
// type, path_len; then after the path: mode, mtime_ms.
constexpr std::size_t kPrefixSize = 1 + 2;
constexpr std::size_t kFieldsSize = 4 + 8;

ProtocolError bad_archive(std::string message) {
  return {ErrorTag::bad_archive, std::move(message)};
}

void append_hex(std::string& out, std::uint8_t b) {
  static const char* digits = "0123456789abcdef";
  out.push_back(digits[b >> 4]);
  out.push_back(digits[b & 15]);
}

// A name for messages: the peer chose these bytes, so anything but printable ASCII is
// escaped (no terminal control sequences in a CLI's output) and long ones are cut.
std::string quoted(std::string_view s) {
  constexpr std::size_t kShown = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kShown; ++i) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      append_hex(out, c);
    }
  }
  out += s.size() > kShown ? "\"..." : "\"";
  return out;
}

std::string octal(std::uint32_t v) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (v & 7)));
    v >>= 3;
  } while (v != 0);
  return "0" + digits;
}

// "0x41 ('A')"
std::string type_byte(std::uint8_t t) {
  std::string s = "0x";
  append_hex(s, t);
  if (t > 0x20 && t < 0x7f) s += std::string(" ('") + static_cast<char>(t) + "')";
  return s;
}

bool known_type(std::uint8_t t) {
  return t == static_cast<std::uint8_t>(TreeEntryType::directory) ||
         t == static_cast<std::uint8_t>(TreeEntryType::file) ||
         t == static_cast<std::uint8_t>(TreeEntryType::symlink);
}

std::optional<ProtocolError> validate_path(std::string_view path) {
  if (path.empty()) return bad_archive("path is empty");
  if (path.size() > kTreeMaxPath) {
    return bad_archive("path is " + std::to_string(path.size()) + " bytes, more than " +
                       std::to_string(kTreeMaxPath));
  }
  if (path.find('\0') != std::string_view::npos) {
    return bad_archive("path " + quoted(path) + " contains a NUL byte");
  }
  if (path.front() == '/') return bad_archive("path " + quoted(path) + " is absolute");
  // Every component, including the last: "a/" ends with an empty one.
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) return bad_archive("path " + quoted(path) + " has an empty component");
    if (part == "." || part == "..") {
      return bad_archive("path " + quoted(path) + " has a " + quoted(part) + " component");
    }
    if (slash == std::string_view::npos) return std::nullopt;
    start = slash + 1;
  }
}

}  // namespace

void append_tree_archive_start(ByteBuffer& out) { out.append(kTreeArchiveMagic); }

void append_tree_entry(ByteBuffer& out, const TreeEntry& e) {
  assert(!validate_tree_entry(e) && "tree entry fails validate_tree_entry");
  out.append_u8(static_cast<std::uint8_t>(e.type));
  out.append_u16(static_cast<std::uint16_t>(e.path.size()));
  out.append(e.path);
  out.append_u32(e.mode);
  out.append_u64(static_cast<std::uint64_t>(e.mtime_ms));
  if (e.type == TreeEntryType::file) {
    out.append_u64(e.size);
  } else if (e.type == TreeEntryType::symlink) {
    out.append_u16(static_cast<std::uint16_t>(e.target.size()));
    out.append(e.target);
  }
}

void append_tree_archive_end(ByteBuffer& out) { out.append_u8(kEndMarker); }

std::optional<ProtocolError> validate_tree_entry(const TreeEntry& e) {
  const auto type = static_cast<std::uint8_t>(e.type);
  if (!known_type(type)) return bad_archive("unknown entry type " + type_byte(type));
  if (auto error = validate_path(e.path)) return error;
  if (e.mode > kMaxMode) {
    return bad_archive("mode " + octal(e.mode) + " of " + quoted(e.path) +
                       " has bits outside 07777");
  }
  if (e.type != TreeEntryType::file && e.size != 0) {
    return bad_archive("non-file " + quoted(e.path) + " has size " + std::to_string(e.size));
  }
  if (e.type != TreeEntryType::symlink) {
    if (!e.target.empty()) return bad_archive("non-symlink " + quoted(e.path) + " has a target");
    return std::nullopt;
  }
  if (e.target.empty()) return bad_archive("symlink " + quoted(e.path) + " has an empty target");
  if (e.target.size() > kTreeMaxPath) {
    return bad_archive("target of symlink " + quoted(e.path) + " is " +
                       std::to_string(e.target.size()) + " bytes, more than " +
                       std::to_string(kTreeMaxPath));
  }
  if (e.target.find('\0') != std::string::npos) {
    return bad_archive("target of symlink " + quoted(e.path) + " contains a NUL byte");
  }
  return std::nullopt;
}

// ---- TreeArchiveReader ----

std::optional<ProtocolError> TreeArchiveReader::feed(ByteView bytes, TreeArchiveHandler& handler) {
  if (failed_) return failed_;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (phase_ == Phase::ended) {
      return fail(bad_archive("data after the end marker, at byte " + std::to_string(offset_)));
    }
    if (phase_ == Phase::content) {
      // Straight through: the handler sees the caller's bytes, nothing is copied or kept.
      const auto n =
          static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size() - pos));
      const ByteView piece = bytes.subspan(pos, n);
      pos += n;
      offset_ += n;
      remaining_ -= n;
      if (auto error = handler.on_file_data(piece)) return fail(std::move(*error));
      if (remaining_ == 0) {
        if (auto error = handler.on_file_end()) return fail(std::move(*error));
        next_entry();
      }
      continue;
    }
    // A header (or the magic): gather up to need_ bytes; need_ grows as its length fields
    // arrive and never exceeds kTreeMaxHeader.
    const std::size_t n = std::min(need_ - pending_.size(), bytes.size() - pos);
    pending_.insert(pending_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                    bytes.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    offset_ += n;
    if (phase_ == Phase::magic &&
        !std::equal(pending_.begin(), pending_.end(), kTreeArchiveMagic.begin())) {
      // Refused at the first wrong byte: a stream that is not an archive fails as such,
      // not as a truncated one.
      return fail(bad_archive("not a tree archive: the stream starts with " +
                              quoted(as_chars(pending_)) + ", not " + quoted(kTreeArchiveMagic)));
    }
    if (pending_.size() < need_) break;
    if (auto error = advance(handler)) return fail(std::move(*error));
  }
  return std::nullopt;
}

std::optional<ProtocolError> TreeArchiveReader::finish() {
  if (failed_) return failed_;
  switch (phase_) {
    case Phase::ended:
      return std::nullopt;
    case Phase::magic:
      return fail(bad_archive("archive truncated: the stream ended after " +
                              std::to_string(pending_.size()) + " of " +
                              std::to_string(kTreeArchiveMagic.size()) + " magic bytes"));
    case Phase::type:
      return fail(bad_archive("archive truncated: no end marker after " + std::to_string(entries_) +
                              " entries"));
    case Phase::content:
      return fail(at_entry("archive truncated: " + std::to_string(remaining_) + " of the " +
                           std::to_string(file_size_) + " content bytes of " + quoted(file_path_) +
                           " are missing"));
    case Phase::path_length:
    case Phase::fields:
    case Phase::target:
      break;
  }
  return fail(at_entry("archive truncated: the stream ended inside the header"));
}

// pending_ holds need_ bytes: act on what they complete.
std::optional<ProtocolError> TreeArchiveReader::advance(TreeArchiveHandler& handler) {
  switch (phase_) {
    case Phase::magic:
      next_entry();
      return std::nullopt;
    case Phase::type: {
      const std::uint8_t type = pending_[0];
      if (type == kEndMarker) {
        phase_ = Phase::ended;
        pending_.clear();
        return handler.on_archive_end();
      }
      ++entries_;
      entry_offset_ = offset_ - 1;
      if (!known_type(type)) return at_entry("unknown entry type " + type_byte(type));
      phase_ = Phase::path_length;
      need_ = kPrefixSize;
      return std::nullopt;
    }
    case Phase::path_length: {
      const std::size_t path_len = load_u16(&pending_[1]);
      if (path_len == 0 || path_len > kTreeMaxPath) {
        return at_entry("path length " + std::to_string(path_len) + " (must be 1.." +
                        std::to_string(kTreeMaxPath) + ")");
      }
      need_ = kPrefixSize + path_len + kFieldsSize;
      const auto type = static_cast<TreeEntryType>(pending_[0]);
      if (type == TreeEntryType::file) need_ += 8;     // size
      if (type == TreeEntryType::symlink) need_ += 2;  // target_len
      phase_ = Phase::fields;
      return std::nullopt;
    }
    case Phase::fields: {
      if (static_cast<TreeEntryType>(pending_[0]) != TreeEntryType::symlink) {
        return complete_header(handler);
      }
      const std::size_t target_len = load_u16(&pending_[need_ - 2]);
      if (target_len == 0 || target_len > kTreeMaxPath) {
        return at_entry("symlink target length " + std::to_string(target_len) + " (must be 1.." +
                        std::to_string(kTreeMaxPath) + ")");
      }
      need_ += target_len;
      phase_ = Phase::target;
      return std::nullopt;
    }
    case Phase::target:
      return complete_header(handler);
    case Phase::content:
    case Phase::ended:
      break;
  }
  assert(false && "advance() in a phase without a header");
  return std::nullopt;
}

std::optional<ProtocolError> TreeArchiveReader::complete_header(TreeArchiveHandler& handler) {
  const std::uint8_t* p = pending_.data();
  TreeEntry e;
  e.type = static_cast<TreeEntryType>(p[0]);
  const std::size_t path_len = load_u16(p + 1);
  p += kPrefixSize;
  e.path.assign(reinterpret_cast<const char*>(p), path_len);
  p += path_len;
  e.mode = load_u32(p);
  e.mtime_ms = static_cast<std::int64_t>(load_u64(p + 4));
  p += kFieldsSize;
  if (e.type == TreeEntryType::file) {
    e.size = load_u64(p);
  } else if (e.type == TreeEntryType::symlink) {
    const std::size_t target_len = load_u16(p);
    e.target.assign(reinterpret_cast<const char*>(p + 2), target_len);
  }
  if (auto error = validate_tree_entry(e)) return at_entry(error->message);

  if (auto error = handler.on_entry(e)) return error;
  if (e.type == TreeEntryType::file && e.size != 0) {
    phase_ = Phase::content;
    remaining_ = file_size_ = e.size;
    file_path_ = std::move(e.path);
    pending_.clear();
    return std::nullopt;
  }
  if (e.type == TreeEntryType::file) {
    if (auto error = handler.on_file_end()) return error;
  }
  next_entry();
  return std::nullopt;
}

void TreeArchiveReader::next_entry() {
  phase_ = Phase::type;
  need_ = 1;
  pending_.clear();
}

// "entry 12 at byte 3456: path length 0"
ProtocolError TreeArchiveReader::at_entry(const std::string& what) const {
  return bad_archive("entry " + std::to_string(entries_) + " at byte " +
                     std::to_string(entry_offset_) + ": " + what);
}

std::optional<ProtocolError> TreeArchiveReader::fail(ProtocolError error) {
  failed_ = std::move(error);
  return failed_;
}

}  // namespace remsh::protocol
