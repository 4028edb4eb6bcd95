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
    bool approve = false;  // agents enrolled with it wait for `remsh agent approve`
};
int token_create_command(const ConnectionSettings& settings, const TokenCreateOptions& options);
int token_list_command(const ConnectionSettings& settings, bool json);
int token_delete_command(const ConnectionSettings& settings, const std::string& id);
int apitoken_create_command(const ConnectionSettings& settings, const std::string& role);
int apitoken_list_command(const ConnectionSettings& settings, bool json);
int apitoken_delete_command(const ConnectionSettings& settings, const std::string& id);
// `remsh master shutdown [--graceful] [--deadline D]`.
int master_shutdown_command(const ConnectionSettings& settings, bool graceful, std::optional<std::int64_t> deadline_s);

// `remsh agent ACTION NAME ...`: list, show, approve, drain, resume, revoke, rename,
// label-add, label-remove, message.
struct AgentAdminOptions {
    std::string action;
    std::string name;
    std::string argument;             // rename: the new name; message: the text
    std::vector<std::string> labels;  // label-add / label-remove
    bool json = false;
};
int agent_admin_command(const ConnectionSettings& settings, const AgentAdminOptions& options);

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
    bool interactive = false;  // `remsh shell`: a debug shell (the owner must allow shells)
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
// One command's output (options.id) to stdout/stderr, following it with options.follow.
boost::asio::awaitable<int> show_command_log(ApiClient& api, const LogsOptions& options);

// `remsh job ...` (docs/api.md, "Jobs").
struct JobOptions {
    std::string action;  // submit, list, show, cancel, release, logs
    std::string file;    // submit: the recipe
    std::string id;
    bool wait = false;    // submit: follow the job, exit 0 only if it succeeds
    bool follow = false;  // logs -f
    std::optional<int> step;
    bool json = false;
};
int job_command(const ConnectionSettings& settings, const JobOptions& options);
// "/api/v1/jobs/ID"; throws CliError (bad-request) for an id that is not a number.
std::string job_api_path(const std::string& id);
// `remsh shell --job ID`: the job's agent and environment, added to `options` (the job's
// variables first, so --env given on the command line wins). Returns an exit code.
int resolve_shell_job(const ConnectionSettings& settings, const std::string& job_id, RunOptions& options);

// `remsh artifact list JOB` / `get JOB NAME [-o DIR | --archive FILE]`.
struct ArtifactOptions {
    std::string action;  // list, get
    std::string job;
    std::string name;
    std::string output;   // get: the directory to extract into (default: ./NAME)
    std::string archive;  // get: save the tree archive itself instead
    bool json = false;
};
int artifact_command(const ConnectionSettings& settings, const ArtifactOptions& options);

// `remsh repo add NAME URL` / `list` / `fetch NAME` / `remove NAME`.
struct RepoOptions {
    std::string action;  // add, list, fetch, remove
    std::string name;
    std::string url;
    bool json = false;
};
int repo_command(const ConnectionSettings& settings, const RepoOptions& options);

// `remsh secret set NAME [--from-file F]` (value from stdin) / `list` / `delete NAME`.
struct SecretOptions {
    std::string action;  // set, list, delete
    std::string name;
    std::string from_file;
    bool json = false;
};
int secret_command(const ConnectionSettings& settings, const SecretOptions& options);

// Files (docs/api.md, "Files"): operands are local paths or AGENT:PATH.
struct CpOptions {
    std::string source;
    std::string destination;
    bool recursive = false;
};
int cp_command(const ConnectionSettings& settings, const CpOptions& options);

struct SyncOptions {
    std::string source;       // local directory
    std::string destination;  // AGENT:DIR
    bool delete_extra = false;
    bool dry_run = false;
};
int sync_command(const ConnectionSettings& settings, const SyncOptions& options);

struct LsOptions {
    std::string target;
    bool long_format = false;
    bool recursive = false;
    bool json = false;
    std::string glob;
};
int ls_command(const ConnectionSettings& settings, const LsOptions& options);

struct StatOptions {
    std::string target;
    bool json = false;
};
int stat_command(const ConnectionSettings& settings, const StatOptions& options);

struct RmOptions {
    std::vector<std::string> targets;
    bool recursive = false;
    bool force = false;
};
int rm_command(const ConnectionSettings& settings, const RmOptions& options);

struct MkdirOptions {
    std::vector<std::string> targets;
    bool parents = false;
};
int mkdir_command(const ConnectionSettings& settings, const MkdirOptions& options);

struct ShellSessionsOptions {
    std::string replay_id;  // empty: list them
    bool json = false;
    bool raw = false;         // replay: print the asciicast file itself
    double speed = 1.0;       // replay: faster (>1) or slower
    double idle_limit = 2.0;  // replay: longest pause, in seconds
};
int shell_sessions_command(const ConnectionSettings& settings, const ShellSessionsOptions& options);

}  // namespace remsh::cli
