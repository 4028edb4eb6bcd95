// A command record as the master reports it (GET /api/v1/commands, the `result` event of the
// WebSocket streams), what it means as an exit code, and how `remsh logs` lists it.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace remsh::cli {

struct CommandRecord {
    std::string id;     // as text ("7")
    std::string agent;
    std::string state;  // running, finished, failed, lost, cancelled
    std::optional<std::int64_t> exit_code;
    std::string signal;  // the signal's name ("KILL"), empty when none
    std::int64_t started_ms = 0;
    std::int64_t finished_ms = 0;
    std::vector<std::string> command;  // argv; a shell line is one element
    std::string error_tag;             // when failed
    std::string error_message;
};

// Missing or mistyped fields are left at their defaults. A numeric signal becomes its name.
CommandRecord parse_command_record(const boost::json::value& record);

// {"commands":[...]} -> the records, in the order given.
std::vector<CommandRecord> parse_command_list(const boost::json::value& response);

// What `remsh run` exits with for a finished record, and the error to print (tag empty: none).
struct CommandOutcome {
    int exit_code = 0;
    std::string tag;
    std::string message;
};
// finished: the exit code (0..255; other values give 255) or 128 + the signal's number (with
// the tag "timeout" when the agent stopped it for running too long or too quietly);
// failed: 127 for exec-failed, 255 otherwise; lost, cancelled, running and unknown states: 255.
CommandOutcome command_outcome(const CommandRecord& record);

// The EXIT column: the code, else the signal's name, else "-".
std::string exit_column(const CommandRecord& record);

// The `remsh logs` listing: a header "ID  AGENT  STATE  EXIT  STARTED  COMMAND", then one line
// per record in the order given (the master sends newest last). STARTED is local time.
std::string format_command_table(const std::vector<CommandRecord>& records);

}  // namespace remsh::cli
