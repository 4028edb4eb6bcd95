// The subcommands of `remsh`. Each returns the process's exit code (see exit_codes.hpp) and
// prints its own errors as "remsh: <tag>: <message>".
#pragma once

#include "api_client.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace remsh::cli {

struct TokenCreateOptions {
    std::optional<int> uses;
    std::optional<std::int64_t> expires_s;
    std::vector<std::string> labels;
};
int token_create_command(const ConnectionSettings& settings, const TokenCreateOptions& options);

struct AgentsOptions {
    bool json = false;
};
int agents_command(const ConnectionSettings& settings, const AgentsOptions& options);

struct RunOptions {
    std::string agent;                 // one agent, or:
    std::string label;                 // every online agent with this label
    std::vector<std::string> command;  // argv
    std::optional<std::string> shell;  // or a shell line
    std::optional<std::string> cwd;
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<std::int64_t> timeout_s;
    bool pty = false;
};
int run_command(const ConnectionSettings& settings, const RunOptions& options);

struct LogsOptions {
    std::string id;  // empty: list the recent commands
    bool follow = false;
    bool exit_code = false;
    int limit = 20;
    bool json = false;
};
int logs_command(const ConnectionSettings& settings, const LogsOptions& options);

}  // namespace remsh::cli
