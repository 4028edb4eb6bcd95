#include "command_record.hpp"

#include "exit_codes.hpp"
#include "json_access.hpp"
#include "shell_quote.hpp"
#include "signal_names.hpp"
#include "text_table.hpp"
#include "time_format.hpp"

#include <boost/json/value.hpp>

namespace remsh::cli {

namespace json = boost::json;

CommandRecord parse_command_record(const json::value& v) {
    CommandRecord r;
    r.id = scalar_text(member(v, "id"));
    r.agent = get_string(v, "agent");
    r.state = get_string(v, "state");
    r.exit_code = get_int(v, "exit_code");
    if (const json::value* sig = member(v, "signal"); sig != nullptr) {
        if (sig->is_string()) {
            r.signal = std::string(sig->get_string());
        } else if (const auto n = get_int(v, "signal"); n) {
            const std::string_view name = signal_name(static_cast<int>(*n));
            r.signal = name.empty() ? std::to_string(*n) : std::string(name);
        }
    }
    r.started_ms = get_int(v, "started_ms").value_or(0);
    r.finished_ms = get_int(v, "finished_ms").value_or(0);
    if (const json::value* cmd = member(v, "command"); cmd != nullptr && cmd->is_string()) {
        r.command.emplace_back(cmd->get_string());
    } else {
        r.command = get_strings(v, "command");
    }
    if (const json::value* err = member(v, "error"); err != nullptr) {
        r.error_tag = get_string(*err, "tag");
        r.error_message = get_string(*err, "message");
    }
    return r;
}

std::vector<CommandRecord> parse_command_list(const json::value& response) {
    std::vector<CommandRecord> out;
    const json::value* list = member(response, "commands");
    if (list == nullptr || !list->is_array()) {
        return out;
    }
    for (const json::value& e : list->get_array()) {
        out.push_back(parse_command_record(e));
    }
    return out;
}

namespace {

// Killed by its time limit: the exit code stays the signal's (or the command's own), but a bare
// 137 would read like any other SIGKILL (the OOM killer, say).
CommandOutcome with_timeout_note(CommandOutcome o, const CommandRecord& r) {
    if (r.error_tag != "timeout" || !o.tag.empty()) {
        return o;
    }
    o.tag = "timeout";
    o.message = r.error_message == "no-output-timeout"
                    ? "stopped: no output for longer than its no-output timeout"
                    : "stopped: it ran longer than its timeout";
    if (!r.signal.empty()) {
        o.message += r.signal.rfind("SIG", 0) == 0 ? " (" + r.signal + ")" : " (SIG" + r.signal + ")";
    }
    return o;
}

CommandOutcome finished_outcome(const CommandRecord& r) {
    if (r.exit_code) {
        const std::int64_t code = *r.exit_code;
        return {code >= 0 && code <= 255 ? static_cast<int>(code) : exit_error, {}, {}};
    }
    if (!r.signal.empty()) {
        if (const auto code = signal_exit_code(r.signal); code) {
            return {*code, {}, {}};
        }
        return {exit_error, "signal", "the command was killed by unknown signal " + r.signal};
    }
    return {exit_error, "bad-result", "the master reported neither an exit code nor a signal"};
}

}  // namespace

CommandOutcome command_outcome(const CommandRecord& r) {
    if (r.state == "finished") {
        return with_timeout_note(finished_outcome(r), r);
    }
    if (r.state == "failed") {
        const std::string tag = r.error_tag.empty() ? "failed" : r.error_tag;
        const std::string message =
            r.error_message.empty() ? "the command could not be started" : r.error_message;
        return {exit_code_for_error_tag(tag), tag, message};
    }
    if (r.state == "lost") {
        return {exit_error, "lost",
                r.error_message.empty() ? "the agent or the master went away before the command finished"
                                        : "the command's agent went away: " + r.error_message};
    }
    if (r.state == "cancelled") {
        return {exit_error, "cancelled", "the command was cancelled"};
    }
    if (r.state == "running") {
        return {exit_error, "running", "the command is still running"};
    }
    return {exit_error, "bad-result", "unknown command state '" + r.state + "'"};
}

std::string exit_column(const CommandRecord& r) {
    // One word, so that the columns still split on blanks.
    const std::string timed_out = r.error_tag == "timeout" ? "(timeout)" : "";
    if (r.exit_code) {
        return std::to_string(*r.exit_code) + timed_out;
    }
    if (!r.signal.empty()) {
        return r.signal + timed_out;
    }
    return "-";
}

std::string format_command_table(const std::vector<CommandRecord>& records) {
    std::vector<TableRow> rows;
    rows.push_back({"ID", "AGENT", "STATE", "EXIT", "STARTED", "COMMAND"});
    for (const CommandRecord& r : records) {
        rows.push_back({r.id.empty() ? "-" : r.id, r.agent.empty() ? "-" : r.agent,
                        r.state.empty() ? "-" : r.state, exit_column(r), local_time(r.started_ms),
                        shell_join(r.command)});
    }
    return format_table(rows);
}

}  // namespace remsh::cli
