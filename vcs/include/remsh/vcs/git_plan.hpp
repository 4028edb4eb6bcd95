// GitPlan: the commands an agent that has git runs for a checkout in `git` mode. The master
// computes them (which commit, which clean-up, whether submodules exist); the agent just
// executes them as ordinary commands. Pure: no I/O.
#pragma once

#include <string>
#include <vector>

namespace remsh::vcs {

struct GitPlanInput {
  std::string url;     // where the agent fetches from (the repository's URL)
  std::string commit;  // resolved by the master's mirror: the agent fetches exactly this
  std::string dir;     // the checkout's directory, as the agent's commands see it
  std::string method;  // incremental, clean, clobber
  bool has_repository = false;  // dir/.git exists already
  bool has_submodules = false;  // the commit has a .gitmodules
};

// Each command an argv (the first word: "git"), run in order, stopping at the first failure.
std::vector<std::vector<std::string>> git_checkout_plan(const GitPlanInput& in);

}  // namespace remsh::vcs
