// What the master reads about an agent when it gives it work or shows it: the facts it
// reported at its last connect (owner labels, policy), and whether it takes new work now.
// One place for these, so `remsh run`, the job scheduler and `remsh agents` agree.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/agent_link.hpp"
#include "storage/storage.hpp"

namespace remsh::master {

struct AgentFacts {
  boost::json::object raw;                     // as reported (an empty object if unreadable)
  std::vector<std::string> owner_labels;       // facts.labels
  std::optional<std::int64_t> max_concurrent;  // facts.policy.max_concurrent
};
AgentFacts read_agent_facts(const AgentRecord& agent);

// The admin's labels (token + `remsh agent label`), then the owner's, without repeats.
std::vector<std::string> all_labels(const AgentRecord& agent, const AgentFacts& facts);
// Whether the agent has every one of `wanted` (a recipe's labels).
bool has_labels(const AgentRecord& agent, const AgentFacts& facts, const std::vector<std::string>& wanted);

// Why the agent takes no new work now, as an error tag and a message (revoked, offline,
// pending approval, drained, leaving), or nullopt when it does. `link` may be null.
std::optional<std::pair<std::string, std::string>> work_refusal(const AgentRecord& agent,
                                                                const std::shared_ptr<AgentLink>& link);

}  // namespace remsh::master
