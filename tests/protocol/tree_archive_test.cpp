#include "remsh/protocol/tree_archive.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "test_bytes.hpp"

using namespace remsh::protocol;
using remsh::test::from_hex;
using remsh::test::random_bytes;

namespace {

// An entry with, for files, its content.
struct Item {
  TreeEntry entry;
  std::string content;
};

Item dir_item(std::string path, std::uint32_t mode = 0755, std::int64_t mtime_ms = 0) {
  return {{.type = TreeEntryType::directory,
           .path = std::move(path),
           .mode = mode,
           .mtime_ms = mtime_ms},
          {}};
}
Item file_item(std::string path, std::string content, std::uint32_t mode = 0644,
               std::int64_t mtime_ms = 0) {
  return {{.type = TreeEntryType::file,
           .path = std::move(path),
           .mode = mode,
           .mtime_ms = mtime_ms,
           .size = content.size()},
          std::move(content)};
}
Item link_item(std::string path, std::string target, std::uint32_t mode = 0777,
               std::int64_t mtime_ms = 0) {
  return {{.type = TreeEntryType::symlink,
           .path = std::move(path),
           .mode = mode,
           .mtime_ms = mtime_ms,
           .target = std::move(target)},
          {}};
}

std::vector<std::uint8_t> archive(const std::vector<Item>& items) {
  ByteBuffer out;
  append_tree_archive_start(out);
  for (const auto& item : items) {
    append_tree_entry(out, item.entry);
    out.append(item.content);
  }
  append_tree_archive_end(out);
  return {out.view().begin(), out.view().end()};
}

std::string describe(const TreeEntry& e) {
  return std::string("entry ") + static_cast<char>(e.type) + " " + e.path + " " +
         std::to_string(e.mode) + " " + std::to_string(e.mtime_ms) + " " + std::to_string(e.size) +
         " " + e.target;
}

// What a reader must report for `items`: file content joined into one event per file.
std::vector<std::string> expected_events(const std::vector<Item>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    out.push_back(describe(item.entry));
    if (item.entry.type != TreeEntryType::file) continue;
    if (!item.content.empty()) out.push_back("data " + item.content);
    out.push_back("file-end");
  }
  out.push_back("archive-end");
  return out;
}

// Records every event (consecutive content pieces joined) and, if asked, fails at the
// event with index `fail_at`.
struct Recorder final : TreeArchiveHandler {
  std::vector<std::string> events;
  std::size_t calls = 0;
  std::size_t fail_at = SIZE_MAX;
  bool last_was_data = false;

  std::optional<ProtocolError> event(std::string text, bool data = false) {
    if (data && last_was_data) {
      events.back() += text;
    } else {
      events.push_back((data ? "data " : "") + text);
    }
    last_was_data = data;
    if (calls++ == fail_at) return ProtocolError{ErrorTag::disk_full, "handler says no"};
    return std::nullopt;
  }
  std::optional<ProtocolError> on_entry(const TreeEntry& e) override { return event(describe(e)); }
  std::optional<ProtocolError> on_file_data(ByteView bytes) override {
    REQUIRE_FALSE(bytes.empty());
    return event(std::string(as_chars(bytes)), true);
  }
  std::optional<ProtocolError> on_file_end() override { return event("file-end"); }
  std::optional<ProtocolError> on_archive_end() override { return event("archive-end"); }
};

// Feeds `wire` cut at `cuts` (ascending offsets), then finishes; the first error.
std::optional<ProtocolError> decode(const std::vector<std::uint8_t>& wire,
                                    const std::vector<std::size_t>& cuts, Recorder& rec) {
  TreeArchiveReader reader;
  const ByteView all{wire};
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    if (auto error = reader.feed(all.subspan(pos, cut - pos), rec)) return error;
    pos = cut;
  }
  if (auto error = reader.feed(all.subspan(pos), rec)) return error;
  return reader.finish();
}

std::optional<ProtocolError> decode_error(const std::vector<std::uint8_t>& wire) {
  Recorder rec;
  return decode(wire, {}, rec);
}

// Hand-built headers, valid or not (append_tree_entry refuses invalid entries).
std::vector<std::uint8_t> bytes_of(const ByteBuffer& b) {
  return {b.view().begin(), b.view().end()};
}

ByteBuffer raw_start() {
  ByteBuffer b;
  b.append(kTreeArchiveMagic);
  return b;
}
void raw_header(ByteBuffer& b, char type, std::string_view path, std::uint32_t mode) {
  b.append_u8(static_cast<std::uint8_t>(type));
  b.append_u16(static_cast<std::uint16_t>(path.size()));
  b.append(path);
  b.append_u32(mode);
  b.append_u64(0);
}
std::vector<std::uint8_t> raw_dir(std::string_view path, std::uint32_t mode = 0755) {
  ByteBuffer b = raw_start();
  raw_header(b, 'd', path, mode);
  b.append_u8('E');
  return bytes_of(b);
}
std::vector<std::uint8_t> raw_link(std::string_view path, std::string_view target) {
  ByteBuffer b = raw_start();
  raw_header(b, 'l', path, 0777);
  b.append_u16(static_cast<std::uint16_t>(target.size()));
  b.append(target);
  b.append_u8('E');
  return bytes_of(b);
}

std::vector<Item> mixed_tree() {
  return {
      dir_item("src", 0755, 1700000000123),
      file_item("src/main.cpp", "int main() { return 0; }\n", 0644, 1700000000456),
      file_item("src/empty", "", 0600, -1),
      link_item("src/link", "../README", 0777, -86400000),
      dir_item("src/empty dir", 0700),
      file_item("README", "hello\n", 04755, 0),
      link_item("abs", "/etc/passwd"),
      file_item("odd\\name \xc3\xa9", "x", 0),
      dir_item(".hidden/...", 01777),
  };
}

}  // namespace

TEST_CASE("tree archive layout is pinned by an exact byte vector", "[tree_archive]") {
  const std::vector<Item> items = {
      dir_item("a", 0755, 1700000000000),
      file_item("a/b", "hi", 0644, -1),
      link_item("a/c", "b", 0777, 0),
  };
  const auto wire = archive(items);
  REQUIRE(wire == from_hex("5254413164000161000001ed0000018bcfe56800"
                           "660003612f62000001a4ffffffffffffffff0000000000000002"
                           "6869"
                           "6c0003612f63000001ff00000000000000000001"
                           "62"
                           "45"));
  Recorder rec;
  REQUIRE_FALSE(decode(wire, {}, rec));
  REQUIRE(rec.events == expected_events(items));
}

TEST_CASE("tree archive with no entries", "[tree_archive]") {
  const auto wire = archive({});
  REQUIRE(wire == from_hex("5254413145"));
  Recorder rec;
  REQUIRE_FALSE(decode(wire, {}, rec));
  REQUIRE(rec.events == std::vector<std::string>{"archive-end"});
}

TEST_CASE("tree archive round trip at every split point", "[tree_archive]") {
  const auto items = mixed_tree();
  const auto wire = archive(items);
  const auto want = expected_events(items);
  for (std::size_t i = 0; i <= wire.size(); ++i) {
    for (std::size_t j = i; j <= wire.size(); ++j) {
      Recorder rec;
      auto error = decode(wire, {i, j}, rec);
      if (error || rec.events != want) {
        CAPTURE(i, j, error ? error->describe() : "");
        REQUIRE(rec.events == want);
        REQUIRE_FALSE(error);
      }
    }
  }
}

TEST_CASE("tree archive decodes one byte at a time", "[tree_archive]") {
  const auto items = mixed_tree();
  const auto wire = archive(items);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  Recorder rec;
  REQUIRE_FALSE(decode(wire, cuts, rec));
  REQUIRE(rec.events == expected_events(items));
}

TEST_CASE("tree archive streams a large file in the caller's pieces", "[tree_archive]") {
  // 3 MiB of content must come out in pieces of what was fed, pointing into the fed bytes
  // (the reader keeps no copy), whatever the chunking.
  std::mt19937_64 rng(7);
  const auto big = random_bytes(rng, 3u << 20);
  const std::string content(big.begin(), big.end());
  const std::vector<Item> items = {dir_item("d"), file_item("d/big.bin", content),
                                   file_item("d/after", "tail")};
  const auto wire = archive(items);

  struct Checker final : TreeArchiveHandler {
    ByteView chunk;  // what is being fed right now
    std::vector<TreeEntry> entries;
    std::string data;
    int file_ends = 0;
    bool archive_ended = false;
    std::optional<ProtocolError> on_entry(const TreeEntry& e) override {
      entries.push_back(e);
      return std::nullopt;
    }
    std::optional<ProtocolError> on_file_data(ByteView bytes) override {
      REQUIRE(bytes.data() >= chunk.data());
      REQUIRE(bytes.data() + bytes.size() <= chunk.data() + chunk.size());
      data.append(as_chars(bytes));
      return std::nullopt;
    }
    std::optional<ProtocolError> on_file_end() override {
      ++file_ends;
      return std::nullopt;
    }
    std::optional<ProtocolError> on_archive_end() override {
      archive_ended = true;
      return std::nullopt;
    }
  };

  for (int round = 0; round < 4; ++round) {
    const std::size_t max_chunk = round == 0   ? 17
                                  : round == 1 ? 4096
                                  : round == 2 ? 65536
                                               : 1 << 20;
    CAPTURE(max_chunk);
    Checker h;
    TreeArchiveReader reader;
    std::size_t pos = 0;
    while (pos < wire.size()) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % max_chunk, wire.size() - pos);
      h.chunk = ByteView{wire}.subspan(pos, n);
      REQUIRE_FALSE(reader.feed(h.chunk, h));
      pos += n;
    }
    REQUIRE_FALSE(reader.finish());
    REQUIRE(reader.ended());
    REQUIRE(h.archive_ended);
    REQUIRE(h.entries.size() == 3);
    REQUIRE(h.entries[1].size == content.size());
    REQUIRE(h.file_ends == 2);
    REQUIRE(h.data.size() == content.size() + 4);
    REQUIRE(h.data == content + "tail");
  }
}

TEST_CASE("tree archive refuses malformed input with bad-archive", "[tree_archive]") {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> wire;
    const char* message;  // a part of the error message
  };
  ByteBuffer unknown = raw_start();
  unknown.append("x");
  ByteBuffer trailing = raw_start();
  trailing.append("Ez");
  ByteBuffer empty_path = raw_start();
  empty_path.append_u8('f');
  empty_path.append_u16(0);
  ByteBuffer second_bad = raw_start();
  raw_header(second_bad, 'd', "ok", 0755);
  raw_header(second_bad, 'd', "a//b", 0755);
  const std::vector<Case> cases = {
      {"bad magic", from_hex("5254413245"), "not a tree archive"},
      {"not an archive at all", from_hex("00"), "not a tree archive"},
      {"unknown type", bytes_of(unknown), "entry 1 at byte 4: unknown entry type 0x78 ('x')"},
      {"empty path", bytes_of(empty_path), "entry 1 at byte 4: path length 0"},
      {"absolute path", raw_dir("/abs"), "is absolute"},
      {"dot-dot component", raw_dir("a/../b"), "has a \"..\" component"},
      {"dot-dot alone", raw_dir(".."), "has a \"..\" component"},
      {"dot path", raw_dir("."), "has a \".\" component"},
      {"dot component", raw_dir("a/./b"), "has a \".\" component"},
      {"double slash", raw_dir("a//b"), "has an empty component"},
      {"trailing slash", raw_dir("a/"), "has an empty component"},
      {"NUL in path", raw_dir(std::string_view("a\0b", 3)), "contains a NUL byte"},
      {"path too long", raw_dir(std::string(kTreeMaxPath + 1, 'p')), "path length 4097"},
      {"mode beyond 07777", raw_dir("d", 010000), "mode 010000"},
      {"empty symlink target", raw_link("l", ""), "symlink target length 0"},
      {"symlink target too long", raw_link("l", std::string(kTreeMaxPath + 1, 't')),
       "symlink target length 4097"},
      {"NUL in symlink target", raw_link("l", std::string_view("a\0b", 3)), "contains a NUL byte"},
      {"bytes after the end marker", bytes_of(trailing), "data after the end marker"},
      {"second entry bad", bytes_of(second_bad), "entry 2 at byte 21: path \"a//b\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto error = decode_error(c.wire);
    REQUIRE(error);
    CAPTURE(error->message);
    REQUIRE(error->tag == ErrorTag::bad_archive);
    REQUIRE(error->message.find(c.message) != std::string::npos);
  }
}

TEST_CASE("tree archive names from the peer are escaped in messages", "[tree_archive]") {
  auto error = decode_error(raw_dir("x/\x1b[2J/.."));
  REQUIRE(error);
  REQUIRE(error->message.find("\x1b") == std::string::npos);
  REQUIRE(error->message.find("\"x/\\x1b[2J/..\"") != std::string::npos);
}

TEST_CASE("validate_tree_entry accepts what POSIX trees contain", "[tree_archive]") {
  for (const auto& item :
       {dir_item("a"), dir_item("a/b/c"), dir_item(".hidden"), dir_item("..."),
        dir_item("a/..b/c.."), dir_item("back\\slash"), dir_item(std::string(kTreeMaxPath, 'p')),
        dir_item("x", 07777), file_item("f", ""), file_item("f", "content"),
        link_item("l", "/absolute/target"), link_item("l", "../../outside"),
        link_item("l", std::string(kTreeMaxPath, 't')), dir_item("t", 0, INT64_MIN),
        dir_item("t", 0, INT64_MAX)}) {
    CAPTURE(item.entry.path);
    REQUIRE_FALSE(validate_tree_entry(item.entry));
  }
}

TEST_CASE("validate_tree_entry refuses inconsistent tree entries", "[tree_archive]") {
  TreeEntry sized_dir = dir_item("d").entry;
  sized_dir.size = 1;
  TreeEntry sized_link = link_item("l", "t").entry;
  sized_link.size = 1;
  TreeEntry file_with_target = file_item("f", "").entry;
  file_with_target.target = "t";
  TreeEntry dir_with_target = dir_item("d").entry;
  dir_with_target.target = "t";
  TreeEntry bad_type = dir_item("d").entry;
  bad_type.type = static_cast<TreeEntryType>('x');
  TreeEntry long_path = dir_item(std::string(kTreeMaxPath + 1, 'p')).entry;
  for (const TreeEntry& e :
       {sized_dir, sized_link, file_with_target, dir_with_target, bad_type, long_path,
        dir_item("").entry, dir_item("/").entry, dir_item("a/").entry, link_item("l", "").entry}) {
    CAPTURE(e.path);
    auto error = validate_tree_entry(e);
    REQUIRE(error);
    REQUIRE(error->tag == ErrorTag::bad_archive);
  }
}

TEST_CASE("truncated tree archive fails in finish", "[tree_archive]") {
  const auto wire = archive(mixed_tree());
  for (std::size_t n = 0; n < wire.size(); ++n) {
    CAPTURE(n);
    Recorder rec;
    TreeArchiveReader reader;
    REQUIRE_FALSE(reader.feed(ByteView{wire}.first(n), rec));
    REQUIRE_FALSE(reader.ended());
    auto error = reader.finish();
    REQUIRE(error);
    CAPTURE(error->message);
    REQUIRE(error->tag == ErrorTag::bad_archive);
    REQUIRE(error->message.find("truncated") != std::string::npos);
    REQUIRE(reader.finish()->message == error->message);  // dead
  }
  TreeArchiveReader reader;
  Recorder rec;
  REQUIRE_FALSE(reader.feed(wire, rec));
  REQUIRE(reader.ended());
  REQUIRE_FALSE(reader.finish());
}

TEST_CASE("tree archive truncation messages say where", "[tree_archive]") {
  const auto wire = archive({file_item("f", "0123456789")});
  Recorder rec;
  TreeArchiveReader reader;
  REQUIRE_FALSE(reader.feed(ByteView{wire}.first(wire.size() - 5), rec));
  auto error = reader.finish();
  REQUIRE(error);
  REQUIRE(error->message ==
          "entry 1 at byte 4: archive truncated: 4 of the 10 content bytes of \"f\" are missing");
}

TEST_CASE("tree archive bytes after the end marker in a later feed", "[tree_archive]") {
  const auto wire = archive({dir_item("d")});
  Recorder rec;
  TreeArchiveReader reader;
  REQUIRE_FALSE(reader.feed(wire, rec));
  REQUIRE(reader.ended());
  REQUIRE_FALSE(reader.feed({}, rec));
  const std::uint8_t extra[] = {'E'};
  auto error = reader.feed(extra, rec);
  REQUIRE(error);
  REQUIRE(error->tag == ErrorTag::bad_archive);
  REQUIRE(reader.finish());
  REQUIRE(rec.events == std::vector<std::string>{describe(dir_item("d").entry), "archive-end"});
}

TEST_CASE("tree archive handler error propagates and the reader stays dead", "[tree_archive]") {
  const auto items = mixed_tree();
  const auto wire = archive(items);
  const auto all_events = expected_events(items);
  // Fail at every handler call, with the archive fed whole and byte by byte.
  for (bool bytewise : {false, true}) {
    for (std::size_t k = 0;; ++k) {
      CAPTURE(bytewise, k);
      Recorder rec;
      rec.fail_at = k;
      TreeArchiveReader reader;
      std::optional<ProtocolError> error;
      for (std::size_t pos = 0; pos < wire.size() && !error;) {
        const std::size_t n = bytewise ? 1 : wire.size();
        error = reader.feed(ByteView{wire}.subspan(pos, n), rec);
        pos += n;
      }
      if (rec.calls <= k) {  // there was no call k: every failure point was tried
        REQUIRE_FALSE(error);
        REQUIRE(rec.events == all_events);
        break;
      }
      REQUIRE(error);
      REQUIRE(error->tag == ErrorTag::disk_full);
      REQUIRE(error->message == "handler says no");
      REQUIRE(rec.calls == k + 1);
      if (!bytewise) {  // one call per event: the events so far, and nothing after
        REQUIRE(rec.events ==
                std::vector<std::string>(all_events.begin(), all_events.begin() + k + 1));
      }
      const auto events = rec.events;
      // Dead: the same error, and no handler calls.
      auto again = reader.feed(wire, rec);
      REQUIRE(again);
      REQUIRE(again->tag == ErrorTag::disk_full);
      REQUIRE(reader.finish()->tag == ErrorTag::disk_full);
      REQUIRE(rec.calls == k + 1);
      REQUIRE(rec.events == events);
    }
  }
}

TEST_CASE("tree archive format error is sticky", "[tree_archive]") {
  Recorder rec;
  TreeArchiveReader reader;
  auto error = reader.feed(from_hex("52544131ff"), rec);
  REQUIRE(error);
  const auto good = archive(mixed_tree());
  auto again = reader.feed(good, rec);
  REQUIRE(again);
  REQUIRE(again->message == error->message);
  REQUIRE(rec.events.empty());
}
