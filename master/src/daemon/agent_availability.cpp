#include "daemon/agent_availability.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

namespace remsh::master {

namespace json = boost::json;

AgentFacts read_agent_facts(const AgentRecord& agent) {
  AgentFacts f;
  boost::system::error_code ec;
  json::value v = json::parse(agent.facts_json, ec);
  if (ec || !v.is_object()) return f;
  f.raw = std::move(v.get_object());
  if (const json::value* labels = f.raw.if_contains("labels"); labels && labels->is_array()) {
    for (const auto& l : labels->get_array()) {
      if (l.is_string()) f.owner_labels.emplace_back(l.get_string());
    }
  }
  const json::value* policy = f.raw.if_contains("policy");
  const json::value* max = policy && policy->is_object() ? policy->get_object().if_contains("max_concurrent") : nullptr;
  if (max && max->is_number()) f.max_concurrent = max->to_number<std::int64_t>();
  return f;
}

std::vector<std::string> all_labels(const AgentRecord& agent, const AgentFacts& facts) {
  std::vector<std::string> labels = agent.labels;
  for (const auto& l : facts.owner_labels) {
    if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
  }
  return labels;
}

bool has_labels(const AgentRecord& agent, const AgentFacts& facts, const std::vector<std::string>& wanted) {
  const std::vector<std::string> labels = all_labels(agent, facts);
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& l) {
    return std::find(labels.begin(), labels.end(), l) != labels.end();
  });
}

std::optional<std::pair<std::string, std::string>> work_refusal(const AgentRecord& agent,
                                                                const std::shared_ptr<AgentLink>& link) {
  const std::string& name = agent.name;
  if (agent.revoked) return std::pair<std::string, std::string>{"agent-revoked", "agent " + name + " is revoked"};
  if (!link || !link->online()) {
    return std::pair<std::string, std::string>{"agent-offline", "agent " + name + " is not connected"};
  }
  if (agent.state == "pending") {
    return std::pair<std::string, std::string>{
        "agent-pending", "agent " + name + " awaits approval (remsh agent approve " + name + ")"};
  }
  if (agent.draining) {
    return std::pair<std::string, std::string>{
        "agent-draining", "agent " + name + " is draining: it accepts no new work (remsh agent resume " + name + ")"};
  }
  if (link->leaving() || agent.leaving) {
    return std::pair<std::string, std::string>{"agent-draining", "agent " + name + " is leaving: its owner is stopping it"};
  }
  return std::nullopt;
}

}  // namespace remsh::master
