// A job's `checkout:` step in snapshot mode (docs/api.md, "checkout"): the master fetches its
// mirror, resolves the ref to a commit, reads the agent's manifest of the target directory,
// and sends only what differs (CheckoutPlan) as one tree archive, plus removals — so the agent
// needs no git at all. The job records the commit (its source stamp), and the master
// remembers which commit the directory holds for the next job's removals.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>

#include "daemon/agent_fs_call.hpp"
#include "daemon/agent_link.hpp"
#include "daemon/recipe.hpp"
#include "daemon/state_dir.hpp"

namespace remsh::master {

struct CheckoutOutcome {
  std::string state;    // a step state: success, failure, cancelled, timed-out, lost
  std::string message;  // why not success ("tag: message")
};

// `dir`: the target, relative to the agent's work dir. `running` is told each file operation
// as it starts, so that a cancel can abandon it.
boost::asio::awaitable<CheckoutOutcome> run_checkout(StateDir& state, std::shared_ptr<AgentLink> link,
                                                     std::int64_t job_id, std::int64_t step_index,
                                                     const RecipeStep& step, const std::string& dir,
                                                     FsCallTracker running);

}  // namespace remsh::master
