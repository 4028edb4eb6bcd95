// The vcs library's pure parts: git-mode command plans and .gitmodules. (Mirrors are tested
// end to end against real repositories: tests/e2e/vcs_test.py.)
#include "remsh/vcs/git_plan.hpp"
#include "remsh/vcs/gitmodules.hpp"

#include <catch2/catch.hpp>

using namespace remsh::vcs;

using Plan = std::vector<std::vector<std::string>>;

TEST_CASE("git plan: a first checkout inits fetches the one commit and checks it out", "[vcs]") {
  GitPlanInput in{"file:///srv/app.git", "abc123", "src", "incremental", false, false};
  CHECK(git_checkout_plan(in) == Plan{{"git", "init", "-q", "src"},
                                      {"git", "-C", "src", "remote", "add", "origin", "file:///srv/app.git"},
                                      {"git", "-C", "src", "fetch", "-q", "--no-tags", "--depth", "1", "origin", "abc123"},
                                      {"git", "-C", "src", "checkout", "-q", "-f", "--detach", "abc123"}});
}

TEST_CASE("git plan: an existing repository is reused and cleaned as asked", "[vcs]") {
  GitPlanInput in{"file:///srv/app.git", "abc123", ".", "clean", true, true};
  CHECK(git_checkout_plan(in) == Plan{{"git", "-C", ".", "remote", "set-url", "origin", "file:///srv/app.git"},
                                      {"git", "-C", ".", "fetch", "-q", "--no-tags", "origin", "abc123"},
                                      {"git", "-C", ".", "checkout", "-q", "-f", "--detach", "abc123"},
                                      {"git", "-C", ".", "clean", "-q", "-ffdx"},
                                      {"git", "-C", ".", "submodule", "update", "-q", "--init", "--recursive", "--force",
                                       "--depth", "1"}});
  in.method = "clobber";
  const Plan clobber = git_checkout_plan(in);
  CHECK(clobber[0] == std::vector<std::string>{"git", "init", "-q", "."});
  CHECK(clobber[1] == std::vector<std::string>{"git", "-C", ".", "remote", "remove", "origin"});
}

TEST_CASE("gitmodules: sections with a path and a url", "[vcs]") {
  const auto subs = parse_gitmodules(
      "[submodule \"lib\"]\n\tpath = third_party/lib\n\turl = ../lib.git\n"
      "# a comment\n[core]\n\tbare = false\n"
      "[submodule \"half\"]\n\tpath = nowhere\n"
      "[submodule \"q\"]\n  path = \"with space\"\n  url = https://example.org/q.git\n");
  REQUIRE(subs.size() == 2);
  CHECK(subs[0].name == "lib");
  CHECK(subs[0].path == "third_party/lib");
  CHECK(subs[0].url == "../lib.git");
  CHECK(subs[1].path == "with space");
}

TEST_CASE("gitmodules: relative urls resolve against the superproject", "[vcs]") {
  CHECK(resolve_submodule_url("file:///srv/git/app.git", "../lib.git") == "file:///srv/git/lib.git");
  CHECK(resolve_submodule_url("file:///srv/git/app", "./sub") == "file:///srv/git/app/sub");
  CHECK(resolve_submodule_url("https://host/org/app.git/", "../../other/x.git") == "https://host/other/x.git");
  CHECK(resolve_submodule_url("https://host/app.git", "../../../x") == "https://host/x");
  CHECK(resolve_submodule_url("file:///a", "https://elsewhere/x.git") == "https://elsewhere/x.git");
}
