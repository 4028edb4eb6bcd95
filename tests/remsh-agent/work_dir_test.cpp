// resolve_cwd(): an exec's cwd must stay inside the work directory, however it is spelled.
#include "core/work_dir.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace remsh::agent;
using remsh::agent::test::TempDir;
using remsh::protocol::ErrorTag;
using remsh::protocol::ProtocolError;
namespace fs = std::filesystem;

namespace {

struct WorkDir {
  TempDir tmp;
  fs::path work = tmp.path() / "work";
  WorkDir() {
    fs::create_directories(work / "a" / "b");
    fs::create_directories(tmp.path() / "outside");
    fs::create_directory_symlink("/", work / "root");
    fs::create_directory_symlink(tmp.path() / "outside", work / "away");
    fs::create_directory_symlink("a/b", work / "inner");
    fs::create_directory_symlink("../../outside", work / "a" / "up");
  }
};

fs::path ok(const fs::path& work, const std::string& cwd) {
  auto r = resolve_cwd(work, cwd);
  if (auto* e = std::get_if<ProtocolError>(&r)) FAIL(cwd << ": " << e->describe());
  return std::get<fs::path>(r);
}

ErrorTag refused(const fs::path& work, const std::string& cwd) {
  auto r = resolve_cwd(work, cwd);
  if (auto* e = std::get_if<ProtocolError>(&r)) return e->tag;
  FAIL(cwd << " was accepted as " << std::get<fs::path>(r));
  return ErrorTag::internal;
}

}  // namespace

TEST_CASE("work dir: relative paths inside are joined to the work directory", "[work_dir]") {
  WorkDir w;
  CHECK(std::get<fs::path>(resolve_cwd(w.work, std::nullopt)) == w.work);
  CHECK(ok(w.work, "") == w.work);
  CHECK(ok(w.work, ".") == w.work);
  CHECK(ok(w.work, "a") == w.work / "a");
  CHECK(ok(w.work, "a/b/") == w.work / "a" / "b");
  CHECK(ok(w.work, "a/../a/b/..") == w.work / "a");
  CHECK(ok(w.work, "inner") == w.work / "a" / "b");  // a link that stays inside
  CHECK(ok(w.work, "not/yet/there") == w.work / "not" / "yet" / "there");
  CHECK(ok(w.work, w.work.string() + "/a") == w.work / "a");  // absolute, but inside
}

TEST_CASE("work dir: .. components that leave the work directory are refused", "[work_dir]") {
  WorkDir w;
  CHECK(refused(w.work, "..") == ErrorTag::path_outside_workdir);
  CHECK(refused(w.work, "../outside") == ErrorTag::path_outside_workdir);
  CHECK(refused(w.work, "a/../../outside") == ErrorTag::path_outside_workdir);
  CHECK(refused(w.work, "missing/../../x") == ErrorTag::path_outside_workdir);
  CHECK(refused(w.work, "/etc") == ErrorTag::path_outside_workdir);
  // A sibling whose name starts with the work directory's name is not inside it.
  fs::create_directories(w.tmp.path() / "workshop");
  CHECK(refused(w.work, "../workshop") == ErrorTag::path_outside_workdir);
}

TEST_CASE("work dir: symbolic links that lead out are refused", "[work_dir]") {
  WorkDir w;
  CHECK(refused(w.work, "root") == ErrorTag::path_outside_workdir);
  CHECK(refused(w.work, "root/tmp") == ErrorTag::path_outside_workdir);
  CHECK(refused(w.work, "away") == ErrorTag::path_outside_workdir);
  CHECK(refused(w.work, "a/up") == ErrorTag::path_outside_workdir);
}

TEST_CASE("work dir: a work directory reached through a link still works", "[work_dir]") {
  WorkDir w;
  fs::create_directory_symlink(w.work, w.tmp.path() / "link-to-work");
  CHECK(ok(w.tmp.path() / "link-to-work", "a") == w.work / "a");
  CHECK(refused(w.tmp.path() / "link-to-work", "../outside") == ErrorTag::path_outside_workdir);
}

TEST_CASE("work dir: is_within compares whole path elements", "[work_dir]") {
  CHECK(is_within("/a/b", "/a/b"));
  CHECK(is_within("/a/b/", "/a/b"));
  CHECK(is_within("/a/b", "/a/b/c"));
  CHECK_FALSE(is_within("/a/b", "/a/bc"));
  CHECK_FALSE(is_within("/a/b", "/a"));
  CHECK(is_within("/", "/x"));
}
