// CheckoutPlan: what a snapshot checkout changes, from the tree and the agent's manifest.
#include "daemon/checkout_plan.hpp"

#include <catch2/catch.hpp>

using namespace remsh::master;

namespace {
WantedFile file(const std::string& path, const std::string& sha, bool exec = false) {
  return WantedFile{path, exec ? WantedFile::Kind::executable : WantedFile::Kind::file, sha, "", ""};
}
HeldEntry held_file(const std::string& sha, std::uint32_t mode = 0644) { return HeldEntry{"file", sha, mode, ""}; }
HeldEntry held_dir() { return HeldEntry{"directory", "", 0755, ""}; }
}  // namespace

TEST_CASE("checkout plan: an empty directory gets every file", "[checkout]") {
  const std::vector<WantedFile> wanted{file("a.txt", "1"), file("src/b.c", "2")};
  const auto plan = plan_checkout(wanted, {}, {}, "incremental");
  CHECK(plan.remove.empty());
  CHECK(plan.send == std::vector<std::size_t>{0, 1});
}

TEST_CASE("checkout plan: only what differs is sent and untracked files stay", "[checkout]") {
  const std::vector<WantedFile> wanted{file("a.txt", "1"), file("b.txt", "2new"), file("run.sh", "3", true)};
  const std::map<std::string, HeldEntry> held{{"a.txt", held_file("1")},
                                              {"b.txt", held_file("2old")},
                                              {"run.sh", held_file("3", 0644)},  // lost its exec bit
                                              {"build.o", held_file("x")},      // untracked
                                              {"gone.txt", held_file("4")}};    // deleted by the commit
  const auto plan = plan_checkout(wanted, held, {"a.txt", "b.txt", "run.sh", "gone.txt"}, "incremental");
  CHECK(plan.send == std::vector<std::size_t>{1, 2});
  CHECK(plan.remove == std::vector<std::string>{"gone.txt"});
  // clean: the untracked file goes too.
  const auto clean = plan_checkout(wanted, held, {}, "clean");
  CHECK(clean.remove == std::vector<std::string>{"build.o", "gone.txt"});
}

TEST_CASE("checkout plan: a tampered directory is repaired", "[checkout]") {
  const std::vector<WantedFile> wanted{file("a/b.txt", "1"), file("c.txt", "2"), file("d.txt", "3")};
  const std::map<std::string, HeldEntry> held{{"a", held_file("oops")},  // a file where a directory goes
                                              {"c.txt", held_dir()},     // a directory where a file goes
                                              {"c.txt/x", held_file("9")}};
  const auto plan = plan_checkout(wanted, held, {"a/b.txt", "c.txt", "d.txt"}, "incremental");
  CHECK(plan.remove == std::vector<std::string>{"a", "c.txt"});
  CHECK(plan.send == std::vector<std::size_t>{0, 1, 2});  // d.txt was deleted behind our back
}

TEST_CASE("checkout plan: removals are topmost and symlinks compare by target", "[checkout]") {
  std::vector<WantedFile> wanted{file("keep.txt", "1")};
  wanted.push_back(WantedFile{"link", WantedFile::Kind::symlink, "", "keep.txt", ""});
  const std::map<std::string, HeldEntry> held{{"keep.txt", held_file("1")},
                                              {"link", HeldEntry{"symlink", "", 0777, "elsewhere"}},
                                              {"old", held_dir()},
                                              {"old/deep", held_dir()},
                                              {"old/deep/f", held_file("z")}};
  const auto plan = plan_checkout(wanted, held, {}, "clean");
  CHECK(plan.remove == std::vector<std::string>{"old"});
  CHECK(plan.send == std::vector<std::size_t>{1});
}

TEST_CASE("checkout plan: a directory emptied by the commit goes and one with untracked files stays", "[checkout]") {
  const std::vector<WantedFile> wanted{file("a.txt", "1")};
  const std::map<std::string, HeldEntry> held{{"a.txt", held_file("1")},   {"gone", held_dir()},
                                              {"gone/x", held_file("2")},  {"gone/sub", held_dir()},
                                              {"gone/sub/y", held_file("3")}, {"kept", held_dir()},
                                              {"kept/z", held_file("4")},  {"kept/build.o", held_file("5")}};
  const auto plan = plan_checkout(wanted, held, {"a.txt", "gone/x", "gone/sub/y", "kept/z"}, "incremental");
  CHECK(plan.remove == std::vector<std::string>{"gone", "kept/z"});
  CHECK(plan.send.empty());
}
