// An agent as GET /api/v1/agents reports it, and the `remsh agents` table.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace remsh::cli {

struct AgentInfo {
    std::string name;
    std::string state;   // online, offline, revoked
    std::string status;  // for people: "online (draining)", "offline (left)", ...
    std::string approval = "approved";  // or "pending"
    bool draining = false;
    bool leaving = false;
    std::vector<std::string> labels;
    std::string os;
    std::string arch;
    std::string version;
    std::int64_t last_seen_ms = 0;
    std::int64_t connected_since_ms = 0;

    bool online() const { return state == "online"; }
    // Online and taking work: approved, not draining, not leaving.
    bool available() const { return online() && approval == "approved" && !draining && !leaving; }
    bool has_label(std::string_view label) const;
};

// {"agents":[...]} -> the agents, in the order given. Missing fields stay empty.
std::vector<AgentInfo> parse_agent_list(const boost::json::value& response);

// Header "NAME  STATE  LABELS  OS/ARCH  VERSION  LAST-SEEN", then one line per agent.
// LABELS comma-separated ("-" for none), LAST-SEEN relative to `now_ms` ("3s ago").
std::string format_agent_table(const std::vector<AgentInfo>& agents, std::int64_t now_ms);

}  // namespace remsh::cli
