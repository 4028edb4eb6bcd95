// The agent's file-system pieces below the fs channel: name patterns, the work area's
// confinement, the tree walk order, and the tree extractor's refusal to leave its directory.
#include "core/glob.hpp"
#include "core/tree_extractor.hpp"
#include "core/tree_walker.hpp"
#include "core/work_area.hpp"
#include "platform/file_system.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

#include <sys/stat.h>

using namespace remsh::agent;
using remsh::agent::test::TempDir;
using remsh::protocol::ErrorTag;
using remsh::protocol::ProtocolError;
namespace fs = std::filesystem;
namespace protocol = remsh::protocol;

namespace {

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

struct Area {
  TempDir tmp;
  fs::path work = tmp.path() / "work";
  fs::path outside = tmp.path() / "outside";
  fs::path extra = tmp.path() / "extra";
  Area() {
    fs::create_directories(work / "a" / "b");
    fs::create_directories(outside);
    fs::create_directories(extra);
    fs::create_directory_symlink(outside, work / "away");
    fs::create_directory_symlink("a/b", work / "inner");
    fs::create_symlink(outside / "nothing", work / "dangling-out");
  }
  WorkArea area() const { return WorkArea(work, {extra}); }
};

ErrorTag refused(const WorkArea& area, const std::string& path, bool follow) {
  auto r = area.resolve(path, follow);
  if (auto* e = std::get_if<ProtocolError>(&r)) return e->tag;
  FAIL(path << " was accepted as " << std::get<fs::path>(r));
  return ErrorTag::internal;
}

fs::path resolved(const WorkArea& area, const std::string& path, bool follow) {
  auto r = area.resolve(path, follow);
  if (auto* e = std::get_if<ProtocolError>(&r)) FAIL(path << ": " << e->describe());
  return std::get<fs::path>(r);
}

}  // namespace

TEST_CASE("glob: stars questions classes and escapes", "[fs][glob]") {
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("*.txt", "a.txt"));
  CHECK_FALSE(glob_match("*.txt", "a.txt.gz"));
  CHECK(glob_match("f?o", "foo"));
  CHECK_FALSE(glob_match("f?o", "fo"));
  CHECK(glob_match("[a-c]x", "bx"));
  CHECK_FALSE(glob_match("[a-c]x", "dx"));
  CHECK(glob_match("[!a-c]x", "dx"));
  CHECK(glob_match("\\*", "*"));
  CHECK_FALSE(glob_match("\\*", "a"));
  CHECK(glob_match("[", "["));
  CHECK(glob_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
  // A hostile pattern stays fast (one backtrack point).
  CHECK_FALSE(glob_match(std::string(200, '*') + "b", std::string(5000, 'a')));
}

TEST_CASE("work area: relative paths stay inside however they are spelled", "[fs][work-area]") {
  Area a;
  const WorkArea area = a.area();
  const fs::path base = fs::canonical(a.work);
  CHECK(resolved(area, "a/b", true) == base / "a" / "b");
  CHECK(resolved(area, "a/../a/b/", true) == base / "a" / "b");
  CHECK(resolved(area, "inner", true) == base / "a" / "b");
  CHECK(resolved(area, "inner", false) == base / "inner");  // the link itself
  CHECK(resolved(area, "new/file", false) == base / "new" / "file");
  CHECK(resolved(area, ".", true) == base);
  CHECK(area.is_root(resolved(area, ".", false)));
  CHECK(refused(area, "..", true) == ErrorTag::path_outside_workdir);
  CHECK(refused(area, "../outside/x", false) == ErrorTag::path_outside_workdir);
  CHECK(refused(area, "away", true) == ErrorTag::path_outside_workdir);
  CHECK(refused(area, "away/x", false) == ErrorTag::path_outside_workdir);
  CHECK(refused(area, "dangling-out", true) == ErrorTag::path_outside_workdir);
  CHECK(resolved(area, "dangling-out", false) == base / "dangling-out");
  CHECK(refused(area, "/etc/passwd", true) == ErrorTag::path_outside_workdir);
}

TEST_CASE("work area: absolute paths only inside the roots the owner allowed", "[fs][work-area]") {
  Area a;
  const WorkArea area = a.area();
  CHECK(resolved(area, (a.extra / "cache" / "x").string(), false) == fs::canonical(a.extra) / "cache" / "x");
  CHECK(refused(area, (a.extra / ".." / "outside").string(), true) == ErrorTag::path_outside_workdir);
  CHECK(refused(area, a.outside.string(), true) == ErrorTag::path_outside_workdir);
  CHECK(refused(area, (a.work / "away" / "x").string(), false) == ErrorTag::path_outside_workdir);
}

TEST_CASE("work area: a plain name in a resolved directory, anything else left to resolve_under", "[fs][work-area]") {
  Area a;
  const WorkArea area = a.area();
  const fs::path base = fs::canonical(a.work);
  auto child = area.resolve_child(base / "a", "name", "a/name");
  REQUIRE(child);
  REQUIRE(std::holds_alternative<fs::path>(*child));
  CHECK(std::get<fs::path>(*child) == base / "a" / "name");
  for (const char* not_plain : {"", ".", "..", "x/y", "x\\y"}) {
    CHECK_FALSE(area.resolve_child(base / "a", not_plain, not_plain));
  }
  // A directory outside the area is still refused, whatever the caller believed.
  child = area.resolve_child(fs::canonical(a.outside), "name", "x/name");
  REQUIRE(child);
  REQUIRE(std::holds_alternative<ProtocolError>(*child));
  CHECK(std::get<ProtocolError>(*child).tag == ErrorTag::path_outside_workdir);
}

TEST_CASE("tree walker: sorted with each directory before its contents and links not followed", "[fs][walk]") {
  Area a;
  write_file(a.work / "a" / "z.txt", "z");
  write_file(a.work / "a" / "b" / "c.txt", "cc");
  TreeWalker walker(a.work, /*recursive=*/true);
  std::vector<std::string> paths;
  while (auto e = walker.next()) paths.push_back(e->path);
  REQUIRE_FALSE(walker.error());
  CHECK(paths == std::vector<std::string>{"a", "a/b", "a/b/c.txt", "a/z.txt", "away", "dangling-out", "inner"});

  TreeWalker one_level(a.work / "a", /*recursive=*/false);
  paths.clear();
  while (auto e = one_level.next()) paths.push_back(e->path);
  CHECK(paths == std::vector<std::string>{"b", "z.txt"});

  TreeWalker single(a.work / "a" / "z.txt", true);
  auto e = single.next();
  REQUIRE(e);
  CHECK(e->path == "z.txt");
  CHECK(e->info.size == 1);
  CHECK_FALSE(single.next());

  TreeWalker missing(a.work / "nope", true);
  CHECK_FALSE(missing.next());
  CHECK(missing.error());
}

TEST_CASE("tree extractor: files dirs and links land inside with modes and nothing escapes", "[fs][extract]") {
  Area a;
  const WorkArea area = a.area();
  const fs::path root = fs::canonical(a.work) / "dest";
  fs::create_directory(root);
  TreeExtractor x(area, root);
  protocol::TreeEntry dir{protocol::TreeEntryType::directory, "d", 0555, 1000, 0, ""};
  protocol::TreeEntry file{protocol::TreeEntryType::file, "d/f", 0640, 2000, 3, ""};
  protocol::TreeEntry link{protocol::TreeEntryType::symlink, "l", 0777, 3000, 0, "d/f"};
  REQUIRE_FALSE(x.on_entry(dir));
  REQUIRE_FALSE(x.on_entry(file));
  const std::string data = "abc";
  REQUIRE_FALSE(x.on_file_data(protocol::as_bytes(data)));
  REQUIRE_FALSE(x.on_file_end());
  REQUIRE_FALSE(x.on_entry(link));
  REQUIRE_FALSE(x.on_archive_end());
  std::error_code ec;
  CHECK(file_info(root / "d", ec).mode == 0555);
  CHECK(file_info(root / "d" / "f", ec).mode == 0640);
  CHECK(file_info(root / "d" / "f", ec).mtime_ms == 2000);
  CHECK(file_info(root / "l", ec).target == "d/f");
  fs::permissions(root / "d", fs::perms::owner_all);

  // A link to the outside, then an entry through it: refused, nothing written outside.
  TreeExtractor y(area, root);
  protocol::TreeEntry out_link{protocol::TreeEntryType::symlink, "out", 0777, 0, 0, a.outside.string()};
  protocol::TreeEntry through{protocol::TreeEntryType::file, "out/planted", 0644, 0, 1, ""};
  REQUIRE_FALSE(y.on_entry(out_link));
  auto error = y.on_entry(through);
  REQUIRE(error);
  CHECK(error->tag == ErrorTag::path_outside_workdir);
  CHECK(fs::is_empty(a.outside));
}

TEST_CASE("tree extractor: a directory replaced by a link gets no mode through it", "[fs][extract]") {
  Area a;
  const WorkArea area = a.area();
  const fs::path root = fs::canonical(a.work) / "dest";
  fs::create_directory(root);
  fs::permissions(a.outside, fs::perms::owner_all);
  TreeExtractor x(area, root);
  protocol::TreeEntry dir{protocol::TreeEntryType::directory, "x", 0777, 0, 0, ""};
  protocol::TreeEntry link{protocol::TreeEntryType::symlink, "x", 0777, 0, 0, a.outside.string()};
  REQUIRE_FALSE(x.on_entry(dir));
  REQUIRE_FALSE(x.on_entry(link));
  REQUIRE_FALSE(x.on_archive_end());
  CHECK(fs::status(a.outside).permissions() == fs::perms::owner_all);
  // And a link to the parent cannot carry an entry beside the target directory.
  TreeExtractor y(area, root);
  protocol::TreeEntry up{protocol::TreeEntryType::symlink, "up", 0777, 0, 0, ".."};
  protocol::TreeEntry beside{protocol::TreeEntryType::file, "up/beside", 0644, 0, 0, ""};
  REQUIRE_FALSE(y.on_entry(up));
  auto error = y.on_entry(beside);
  REQUIRE(error);
  CHECK(error->tag == ErrorTag::path_outside_workdir);
  CHECK_FALSE(fs::exists(fs::canonical(a.work) / "beside"));
}

TEST_CASE("tree extractor: a directory it wrote files into and then replaced is resolved again", "[fs][extract]") {
  Area a;
  const WorkArea area = a.area();
  const fs::path root = fs::canonical(a.work) / "dest";
  fs::create_directory(root);
  const auto put_file = [](TreeExtractor& x, const std::string& path) {
    protocol::TreeEntry file{protocol::TreeEntryType::file, path, 0644, 0, 1, ""};
    if (auto error = x.on_entry(file)) return error;
    const std::string data = "x";
    if (auto error = x.on_file_data(protocol::as_bytes(data))) return error;
    return x.on_file_end();
  };
  // Files into d, then d becomes a link to the outside: the next file of "d/" must not
  // reuse where d was.
  TreeExtractor x(area, root);
  REQUIRE_FALSE(put_file(x, "d/one"));
  REQUIRE_FALSE(put_file(x, "d/two"));
  protocol::TreeEntry away{protocol::TreeEntryType::symlink, "d", 0777, 0, 0, a.outside.string()};
  REQUIRE_FALSE(x.on_entry(away));
  auto error = put_file(x, "d/planted");
  REQUIRE(error);
  CHECK(error->tag == ErrorTag::path_outside_workdir);
  CHECK(fs::is_empty(a.outside));

  // Files into e, then a file named e: e/next now has a file on its way, which the full
  // resolution finds (`exists`, from making e/'s directories) before any write is tried
  // (`not-a-directory`, had e's old resolution been reused).
  TreeExtractor y(area, root);
  REQUIRE_FALSE(put_file(y, "e/one"));
  REQUIRE_FALSE(put_file(y, "e"));
  error = put_file(y, "e/next");
  REQUIRE(error);
  CHECK(error->tag == ErrorTag::exists);

  // A directory reached through a link is resolved again for each file: a file that
  // replaces the link on the way makes the next one fail, as it would on its own.
  TreeExtractor w(area, root);
  protocol::TreeEntry r_dir{protocol::TreeEntryType::directory, "r", 0755, 0, 0, ""};
  protocol::TreeEntry c_dir{protocol::TreeEntryType::directory, "r/c", 0755, 0, 0, ""};
  protocol::TreeEntry via{protocol::TreeEntryType::symlink, "via", 0777, 0, 0, "r/x/.."};
  protocol::TreeEntry x_link{protocol::TreeEntryType::symlink, "r/x", 0777, 0, 0, "c"};
  REQUIRE_FALSE(w.on_entry(r_dir));
  REQUIRE_FALSE(w.on_entry(c_dir));
  REQUIRE_FALSE(w.on_entry(via));
  REQUIRE_FALSE(w.on_entry(x_link));
  REQUIRE_FALSE(put_file(w, "via/x"));  // via leads to r: this replaces the link r/x
  error = put_file(w, "via/y");         // via/.. no longer leads anywhere
  REQUIRE(error);
  CHECK_FALSE(fs::exists(root / "r" / "y"));

  // Names that are not one plain name are resolved in full: "f/.." is the target itself.
  TreeExtractor z(area, root);
  REQUIRE_FALSE(put_file(z, "f/one"));
  error = put_file(z, "f/..");
  REQUIRE(error);
  CHECK(error->tag == ErrorTag::path_outside_workdir);
  REQUIRE_FALSE(put_file(z, "f/two"));
  // A file where a directory is replaces it, contents and all.
  REQUIRE_FALSE(put_file(z, "g/sub/x"));
  REQUIRE_FALSE(put_file(z, "g/sub"));
  REQUIRE_FALSE(put_file(z, "g/y"));
  REQUIRE_FALSE(z.on_archive_end());
  CHECK(fs::is_regular_file(root / "f" / "two"));
  CHECK(fs::is_regular_file(root / "g" / "sub"));
  CHECK(fs::is_regular_file(root / "g" / "y"));
}

TEST_CASE("open for reading: a FIFO is refused at once instead of blocking", "[fs][read]") {
  TempDir tmp;
  const fs::path fifo = tmp.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::error_code ec;
  CHECK_FALSE(open_for_reading(fifo, 0, ec));
  CHECK(ec);
}

TEST_CASE("new file: nothing at the destination until commit and no leftovers when dropped", "[fs][new-file]") {
  TempDir tmp;
  const fs::path dest = tmp.path() / "f";
  std::error_code ec;
  {
    auto f = create_new_file(dest, ec);
    REQUIRE(f);
    const std::string data = "partial";
    f->write(protocol::as_bytes(data), ec);
    CHECK_FALSE(fs::exists(dest));
  }
  CHECK(fs::is_empty(tmp.path()));
  auto f = create_new_file(dest, ec);
  const std::string data = "whole";
  f->write(protocol::as_bytes(data), ec);
  f->commit(0600, 5000, ec);
  REQUIRE_FALSE(ec);
  CHECK(file_info(dest, ec).size == 5);
  CHECK(file_info(dest, ec).mode == 0600);
  CHECK(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("remove tree: read-only directories and files go and absence is not an error", "[fs][remove]") {
  TempDir tmp;
  const fs::path d = tmp.path() / "ro";
  fs::create_directories(d / "sub");
  write_file(d / "sub" / "f", "x");
  fs::permissions(d / "sub" / "f", fs::perms::owner_read);
  fs::permissions(d / "sub", fs::perms::owner_read | fs::perms::owner_exec);
  std::error_code ec;
  CHECK(remove_tree(d, ec));
  CHECK_FALSE(ec);
  CHECK_FALSE(fs::exists(d));
  CHECK_FALSE(remove_tree(d, ec));
  CHECK_FALSE(ec);
}
