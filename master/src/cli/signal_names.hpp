// Signal names as the master reports them ("KILL", "SIGTERM", or a number) and the exit codes
// the CLI derives from them: 128 + the signal's number, as shells do. The numbers are the
// Linux ones, whatever the platform remsh runs on (the command ran on the agent).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace remsh::cli {

// "KILL", "SIGKILL", "kill" and "9" all give 9; nullopt for an unknown name or a number
// outside 1..64.
std::optional<int> signal_number(std::string_view name);

// "KILL" for 9; empty for a number without a name.
std::string_view signal_name(int number);

// 128 + the signal's number (KILL -> 137, INT -> 130); nullopt for an unknown name.
std::optional<int> signal_exit_code(std::string_view name);

}  // namespace remsh::cli
