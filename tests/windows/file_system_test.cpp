// The Windows FileSystem (windows/file_system.cpp) under Wine: Unicode and long paths,
// read-only files replaced and removed, renames over existing files.
#include "platform/file_system.hpp"

#include <catch2/catch.hpp>

#include <windows.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/tree_copy.hpp"
#include "platform/random.hpp"

namespace {

namespace fs = std::filesystem;
using namespace remsh::agent;

fs::path fresh_dir() {
  wchar_t buf[MAX_PATH];
  GetTempPathW(MAX_PATH, buf);
  fs::path dir = fs::path(buf) / ("remsh-fs-test-" + random_hex(6));
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::string& text, std::optional<std::uint32_t> mode = std::nullopt) {
  std::error_code ec;
  auto f = create_new_file(path, ec);
  REQUIRE_FALSE(ec);
  f->write(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), ec);
  REQUIRE_FALSE(ec);
  f->commit(mode, 1700000000123, ec);
  REQUIRE_FALSE(ec);
}

std::string read_file(const fs::path& path) {
  std::error_code ec;
  auto f = open_for_reading(path, 0, ec);
  REQUIRE_FALSE(ec);
  std::string out;
  std::vector<std::uint8_t> buf(4096);
  for (std::size_t n; (n = f->read(buf, ec)) > 0;) out.append(reinterpret_cast<const char*>(buf.data()), n);
  REQUIRE_FALSE(ec);
  return out;
}

}  // namespace

TEST_CASE("Unicode names, long paths and modification times", "[windows][fs]") {
  const fs::path dir = fresh_dir();
  const fs::path unicode = dir / fs::u8path("donn\xc3\xa9" "es-\xe6\x97\xa5\xe6\x9c\xac.txt");
  write_file(unicode, "bonjour");
  CHECK(read_file(unicode) == "bonjour");
  std::error_code ec;
  const FileInfo info = file_info(unicode, ec);
  REQUIRE_FALSE(ec);
  CHECK(info.type == FileType::file);
  CHECK(info.size == 7);
  CHECK(info.mtime_ms == 1700000000123);
  const std::vector<std::string> names = list_names(dir, ec);
  REQUIRE(names.size() == 1);
  CHECK(names[0] == "donn\xc3\xa9" "es-\xe6\x97\xa5\xe6\x9c\xac.txt");

  fs::path deep = dir;
  for (int i = 0; i < 30; ++i) deep /= "level-" + std::to_string(i);  // well past MAX_PATH
  REQUIRE(deep.wstring().size() > 300);
  CHECK(make_directories(deep, std::nullopt, ec));
  REQUIRE_FALSE(ec);
  write_file(deep / "far.txt", "far away");
  CHECK(read_file(deep / "far.txt") == "far away");

  CHECK(remove_tree(dir, ec));
  CHECK_FALSE(ec);
  CHECK(file_info(dir, ec).type == FileType::none);
  CHECK_FALSE(ec);
}

TEST_CASE("read-only files are replaced, renamed over and removed", "[windows][fs]") {
  const fs::path dir = fresh_dir();
  std::error_code ec;
  write_file(dir / "locked.txt", "old", 0444);
  CHECK((file_info(dir / "locked.txt", ec).mode & 0200) == 0);
  write_file(dir / "locked.txt", "new");  // a commit replaces it
  CHECK(read_file(dir / "locked.txt") == "new");

  write_file(dir / "a.txt", "from a");
  write_file(dir / "b.txt", "from b", 0444);
  replace_file(dir / "a.txt", dir / "b.txt", ec);
  REQUIRE_FALSE(ec);
  CHECK(read_file(dir / "b.txt") == "from a");
  CHECK(file_info(dir / "a.txt", ec).type == FileType::none);

  REQUIRE(make_directories(dir / "sub", std::nullopt, ec));
  write_file(dir / "sub" / "ro.txt", "x", 0444);
  CHECK(copy_tree(dir / "sub", dir / "copy", ec) == 2);
  REQUIRE_FALSE(ec);
  CHECK(read_file(dir / "copy" / "ro.txt") == "x");
  CHECK(remove_tree(dir, ec));
  CHECK_FALSE(ec);
}

TEST_CASE("missing paths have the protocol's error tags", "[windows][fs]") {
  const fs::path dir = fresh_dir();
  std::error_code ec;
  CHECK(file_info(dir / "nothing", ec).type == FileType::none);
  CHECK_FALSE(ec);
  CHECK_FALSE(open_for_reading(dir / "nothing", 0, ec));
  CHECK(file_error_tag(ec) == "not-found");
  ec.clear();
  CHECK_FALSE(open_for_reading(dir, 0, ec));
  CHECK(file_error_tag(ec) == "is-a-directory");
  ec.clear();
  remove_tree(dir, ec);
}

TEST_CASE("names Windows would take for something else are recognised", "[windows][fs]") {
  CHECK(unusable_name_reason(fs::u8path("C:\\work\\ok\\file.txt")).empty());
  CHECK(unusable_name_reason(fs::u8path("C:\\work\\..\\.\\x")).empty());
  CHECK(unusable_name_reason(fs::u8path("C:\\work\\COM10")).empty());  // only COM1 to COM9
  CHECK_FALSE(unusable_name_reason(fs::u8path("C:\\work\\a:stream")).empty());
  CHECK_FALSE(unusable_name_reason(fs::u8path("C:\\work\\nul.txt")).empty());
  CHECK_FALSE(unusable_name_reason(fs::u8path("C:\\work\\Con")).empty());
  CHECK_FALSE(unusable_name_reason(fs::u8path("C:\\work\\lpt3.log")).empty());
  CHECK_FALSE(unusable_name_reason(fs::u8path("C:\\work\\dir.\\x")).empty());
  CHECK_FALSE(unusable_name_reason(fs::u8path("C:\\work\\trailing ")).empty());
}
