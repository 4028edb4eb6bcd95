#include "remsh/vcs/git_plan.hpp"

namespace remsh::vcs {

std::vector<std::vector<std::string>> git_checkout_plan(const GitPlanInput& in) {
  std::vector<std::vector<std::string>> plan;
  const auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", in.dir});
    plan.push_back(std::move(args));
  };
  // clobber starts from an empty repository; otherwise an existing one is reused (its
  // objects make the fetch small).
  if (!in.has_repository || in.method == "clobber") {
    plan.push_back({"git", "init", "-q", in.dir});
    if (in.has_repository) git({"remote", "remove", "origin"});
    git({"remote", "add", "origin", in.url});
  } else {
    git({"remote", "set-url", "origin", in.url});
  }
  // Exactly the commit the master resolved, not whatever the branch says by now: into a new
  // repository only that commit (depth 1); into an existing one, what it lacks since (a
  // depth-1 fetch there would send the whole tree again).
  const bool fresh = !in.has_repository || in.method == "clobber";
  if (fresh) {
    git({"fetch", "-q", "--no-tags", "--depth", "1", "origin", in.commit});
  } else {
    git({"fetch", "-q", "--no-tags", "origin", in.commit});
  }
  git({"checkout", "-q", "-f", "--detach", in.commit});
  if (in.method == "clean" || in.method == "clobber") git({"clean", "-q", "-ffdx"});
  if (in.has_submodules) git({"submodule", "update", "-q", "--init", "--recursive", "--force", "--depth", "1"});
  return plan;
}

}  // namespace remsh::vcs
