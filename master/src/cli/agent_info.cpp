#include "agent_info.hpp"

#include "json_access.hpp"
#include "text_table.hpp"
#include "time_format.hpp"

#include <boost/json/value.hpp>

#include <algorithm>

namespace remsh::cli {

namespace json = boost::json;

bool AgentInfo::has_label(std::string_view label) const {
    return std::find(labels.begin(), labels.end(), label) != labels.end();
}

std::vector<AgentInfo> parse_agent_list(const json::value& response) {
    std::vector<AgentInfo> out;
    const json::value* list = member(response, "agents");
    if (list == nullptr || !list->is_array()) {
        return out;
    }
    for (const json::value& v : list->get_array()) {
        AgentInfo a;
        a.name = get_string(v, "name");
        a.state = get_string(v, "state");
        a.status = get_string(v, "status");
        if (const std::string approval = get_string(v, "approval"); !approval.empty()) {
            a.approval = approval;
        }
        const json::value* draining = member(v, "draining");
        a.draining = draining != nullptr && draining->is_bool() && draining->get_bool();
        const json::value* leaving = member(v, "leaving");
        a.leaving = leaving != nullptr && leaving->is_bool() && leaving->get_bool();
        a.labels = get_strings(v, "labels");
        a.os = get_string(v, "os");
        a.arch = get_string(v, "arch");
        a.version = get_string(v, "version");
        a.last_seen_ms = get_int(v, "last_seen_ms").value_or(0);
        a.connected_since_ms = get_int(v, "connected_since_ms").value_or(0);
        out.push_back(std::move(a));
    }
    return out;
}

std::string format_agent_table(const std::vector<AgentInfo>& agents, std::int64_t now) {
    std::vector<TableRow> rows;
    rows.push_back({"NAME", "STATE", "LABELS", "OS/ARCH", "VERSION", "LAST-SEEN"});
    for (const AgentInfo& a : agents) {
        std::string labels;
        for (const std::string& l : a.labels) {
            labels += labels.empty() ? l : "," + l;
        }
        std::string os_arch = a.os.empty() ? "-" : a.os;
        if (!a.arch.empty()) {
            os_arch += "/" + a.arch;
        }
        const std::string& state = a.status.empty() ? a.state : a.status;
        rows.push_back({a.name, state.empty() ? "-" : state, labels.empty() ? "-" : labels,
                        os_arch, a.version.empty() ? "-" : a.version,
                        relative_time(a.last_seen_ms, now)});
    }
    return format_table(rows);
}

}  // namespace remsh::cli
