// remsh: the command-line client of the master's API (docs/api.md).
#include "cli_error.hpp"
#include "commands.hpp"
#include "duration.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "master_url.hpp"
#include "output_sink.hpp"
#include "run_request.hpp"
#include "terminal.hpp"
#include "token_source.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#ifndef REMSH_VERSION
#define REMSH_VERSION "0"
#endif

namespace {

using namespace remsh::cli;

constexpr const char* main_footer = R"(Environment:
  REMSH_MASTER              the master's API address (as --master)
  REMSH_MASTER_FINGERPRINT  pinned certificate fingerprint (as --master-fingerprint)
  REMSH_TOKEN_FILE          a file holding the API token (used when --token-file is not given)
  REMSH_TOKEN               the API token itself (used when neither of the above is set)
  The token is the file's or variable's text without surrounding whitespace; the master writes
  the admin token to STATE_DIR/admin.token when it first starts.

Exit codes:
  0        success (`run`, `shell`: the remote command exited 0)
  1-125    `run`, `shell`: the remote command's own exit code;
           `job submit --wait`, `job logs -f`: 1 when the job did not succeed
  2        bad command line
  127      `run`: the command could not be started on the agent (exec-failed)
  128+N    `run`: the remote command was killed by signal N (130 INT, 137 KILL, 143 TERM);
           other commands: remsh itself was interrupted by signal N (Ctrl-C: 130) and
           cleaned up first (`remsh: interrupted: ...`); a second signal exits at once
  255      any other error: master unreachable, unauthorized, unknown or offline agent, ...;
           also when remsh's stdout could not be written (`output-error`: a full disk, ...)
Errors are printed as `remsh: <tag>: <message>`, the tag being a stable machine word.)";

constexpr const char* global_note =
    "Global options (see `remsh --help`) may also follow the subcommand: --master URL,\n"
    "--token-file FILE, --insecure, --master-fingerprint HEX.";

constexpr const char* run_footer = R"(Usage forms:
  remsh run AGENT [OPTIONS] -- CMD [ARGS...]
  remsh run --label L [OPTIONS] -- CMD [ARGS...]
  remsh run AGENT [OPTIONS] --shell 'LINE'

Examples:
  remsh run a1 -- make -j2
  remsh run a1 --cwd src --env CC=clang -- sh -c 'make && make test'
  remsh run --label linux -- uname -a

The command's stdout and stderr come out on remsh's stdout and stderr as they are produced.
remsh's stdin goes to the command (a pipe or a file; a terminal only with --pty, otherwise the
command gets an empty stdin). With --label, every online agent with that label runs the
command at once, stdin is not forwarded, every output line starts with "[AGENT] ", and remsh
exits with the highest exit code of them all.

Ctrl-C sends INT to the command; if it has not ended 5 s later, or on a second Ctrl-C, KILL.
TERM and HUP sent to remsh (a CI job's timeout, a closed ssh session) are passed on the same
way. If remsh's own stdout is closed (`remsh run ... | head`) or cannot be written (a full
disk: `output-error`, exit 255), the command gets TERM, and KILL 5 s later; so it does when
remsh's stdin cannot be read (`input-error`, exit 255) rather than take a partial input for all
of it. The output is stored on the master either way (`remsh logs ID`).

Exit code: the remote command's exit code; 128+N when it was killed by signal N (137 when
--timeout stopped it, which remsh also says: `remsh: timeout: stopped: it ran longer than its
timeout (SIGKILL)`); 127 when it could not be started (exec-failed); 255 for any other error
(unknown or offline agent, master unreachable, connection lost, command lost or cancelled...),
printed as `remsh: <tag>: <message>`.

)";

constexpr const char* logs_footer = R"(Without ID: the recent commands, newest last, as
  ID  AGENT  STATE  EXIT  STARTED  COMMAND
(EXIT: the exit code, the signal's name, or -, then `(timeout)` if its time limit stopped it;
STARTED in local time).
With ID: the command's stored stdout and stderr on remsh's stdout and stderr; with -f, then
its live output until it ends.

Exit code: 0 once the output is printed, whatever the command's own result (a command that
failed to start, was lost or cancelled is also reported on stderr); with --exit-code, the
command's exit code as `remsh run` gives it (128+N for signal N, 127 exec-failed, 255 lost,
cancelled or still running). 255 for errors (unknown command, master unreachable...).

)";

constexpr const char* files_footer = R"(Paths on an agent are relative to its work directory (AGENT: alone is the
work directory itself); `..` or symlinks leading out of it are refused (path-outside-workdir)
unless the agent's owner allowed more places (remsh-agent enroll --allow-path).
A local operand containing ':' before any '/' is read as AGENT:PATH: write ./a:b for a local one.

Examples:
  remsh cp build.tar.gz a1:incoming/        remsh cp a1:out/report.xml .
  remsh cp -r src a1:src                    remsh cp -r a1:results ./results
  remsh sync ./src a1:src --delete          remsh ls -l a1:src
  remsh rm -r a1:build                      remsh mkdir -p a1:cache/ccache

Files are written under a temporary name (on the agent, or here for a download) and renamed into
place only once complete and verified (size and sha256): an interrupted (Ctrl-C: exit code 130)
or failed copy leaves no partial file (a directory keeps the files completed so far). Progress is
shown on a terminal for transfers longer than a second.
As with cp: a destination ending in / must be an existing directory; a downloaded file goes
through a local symlink to its target (the link stays; a dangling one is refused) and into a
device or FIFO as it is (`remsh cp a1:log /dev/null` writes to it, it does not replace it).
Exit code: 0 on success, 2 bad command line, 255 any error (`remsh: <tag>: <message>`, tags
such as not-found, exists, is-a-directory, disk-full, permission-denied, path-outside-workdir).

)";

CLI::Validator duration_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            const auto s = parse_duration_s(text);
            if (!s) {
                return "'" + text + "' is not a duration like 90, 30s, 10m, 2h, 7d or 1h30m";
            }
            if (*s <= 0) {
                return "'" + text + "': a duration here must be more than 0";
            }
            return {};
        },
        "");
}

CLI::Validator url_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            std::string error;
            if (!parse_master_url(text, &error)) {
                return error;
            }
            return {};
        },
        "");
}

CLI::Validator fingerprint_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            if (!text.empty() && !normalize_fingerprint(text)) {
                return "'" + text + "' is not a SHA-256 fingerprint (64 hex digits, ':' allowed)";
            }
            return {};
        },
        "");
}

CLI::Validator env_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            if (!split_env_assignment(text)) {
                return "'" + text + "' is not K=V";
            }
            return {};
        },
        "");
}

struct GlobalOptions {
    std::string master = "http://127.0.0.1:7080";
    std::string token_file;
    bool insecure = false;
    std::string fingerprint;
};

ConnectionSettings make_settings(const GlobalOptions& g) {
    ConnectionSettings s;
    std::string error;
    auto url = parse_master_url(g.master, &error);
    if (!url) {
        throw CliError("bad-master-url", error);
    }
    s.url = std::move(*url);
    s.token_source = choose_token_source(
        g.token_file.empty() ? std::nullopt : std::optional<std::string>(g.token_file),
        std::getenv("REMSH_TOKEN_FILE"), std::getenv("REMSH_TOKEN"));
    s.token = load_token(s.token_source);
    s.insecure = g.insecure;
    if (!g.fingerprint.empty()) {
        s.fingerprint = normalize_fingerprint(g.fingerprint).value_or(std::string());
    }
    return s;
}

// A subcommand that was not built (see `wanted` in main) was not given either.
bool parsed(const CLI::App* sub) { return sub != nullptr && sub->parsed(); }

}  // namespace

namespace {

int run_cli(int argc, char** argv) {
    guard_standard_descriptors();
    std::signal(SIGPIPE, SIG_IGN);  // a closed stdout shows up as EPIPE (see fd_io.hpp)

    // Everything after the first "--" is the remote command, untouched by option parsing.
    std::vector<std::string> args(argv + 1, argv + argc);
    std::vector<std::string> after_dashes;
    bool had_dashes = false;
    if (auto it = std::find(args.begin(), args.end(), "--"); it != args.end()) {
        had_dashes = true;
        after_dashes.assign(it + 1, args.end());
        args.erase(it, args.end());
    }

    CLI::App app{"remsh: the command-line client of a remsh master (run commands on agents, "
                 "copy files to and from them, list agents and commands, create enrollment tokens)",
                 "remsh"};
    app.fallthrough();
    app.require_subcommand(1);
    // Usage errors in the form of every other error ("remsh: <tag>: <message>"), exit 2.
    app.failure_message([](const CLI::App* a, const CLI::Error& e) {
        // "A subcommand is required" for a mistyped one: name what was not understood.
        if (e.get_name() == "RequiredError") {
            for (const std::string& word : a->remaining()) {
                if (!word.empty() && word[0] != '-') {
                    return "remsh: usage: unknown command '" + word + "'\nRun with --help for more information.\n";
                }
            }
        }
        return std::string("remsh: usage: ") + CLI::FailureMessage::simple(a, e);
    });
    app.set_version_flag("--version", "remsh " REMSH_VERSION);

    GlobalOptions global;
    app.add_option("--master", global.master,
                   "the master's API address, http://HOST:PORT or https://HOST:PORT")
        ->envname("REMSH_MASTER")
        ->type_name("URL")
        ->capture_default_str()
        ->check(url_validator());
    app.add_option("--token-file", global.token_file,
                   "a file holding the API token (else env REMSH_TOKEN_FILE, else env "
                   "REMSH_TOKEN holding the token itself)")
        ->type_name("FILE");
    app.add_flag("--insecure", global.insecure,
                 "https: do not check the master's certificate at all (tests only)");
    app.add_option("--master-fingerprint", global.fingerprint,
                   "https: accept only the master certificate with this SHA-256 fingerprint "
                   "(of its DER form, 64 hex digits; `openssl x509 -fingerprint -sha256` output "
                   "works too). Without it and without --insecure the certificate must be valid "
                   "for the host by the system's CAs")
        ->envname("REMSH_MASTER_FINGERPRINT")
        ->type_name("HEX")
        ->check(fingerprint_validator());

    // Every subcommand's options cost CLI11 allocations: building all of them took ~0.5 ms of the
    // ~2 ms start of every `remsh run`. So only the subcommands named in the arguments are built
    // (one more when an argument merely has a subcommand's name), and all of them for --help,
    // which lists them. A subcommand not built is not parsed (parsed() below), and with none
    // named the error is the same: a subcommand is required, or the argument is unexpected.
    const bool help_asked = std::any_of(args.begin(), args.end(), [](const std::string& a) {
        return a == "-h" || a == "--help";
    });
    const auto wanted = [&](std::string_view name) {
        return help_asked || std::find(args.begin(), args.end(), name) != args.end();
    };
    // The subcommands the dispatch below looks at (null when not built), and what they fill.
    CLI::App* token_create = nullptr;
    CLI::App* token_list = nullptr;
    CLI::App* token_delete = nullptr;
    CLI::App* apitoken_create = nullptr;
    CLI::App* apitoken_list = nullptr;
    CLI::App* apitoken_delete = nullptr;
    bool apitoken_list_json = false;
    std::string apitoken_delete_id;
    CLI::App* shell = nullptr;
    CLI::App* master_shutdown = nullptr;
    CLI::App* job_submit = nullptr;
    CLI::App* job_list = nullptr;
    CLI::App* job_show = nullptr;
    CLI::App* job_cancel = nullptr;
    CLI::App* job_release = nullptr;
    CLI::App* job_logs = nullptr;
    CLI::App* artifact_list = nullptr;
    CLI::App* artifact_get = nullptr;
    CLI::App* repo_add = nullptr;
    CLI::App* repo_list = nullptr;
    CLI::App* repo_fetch = nullptr;
    CLI::App* repo_remove = nullptr;
    CLI::App* secret_set = nullptr;
    CLI::App* secret_list = nullptr;
    CLI::App* secret_delete = nullptr;
    CLI::App* shell_sessions = nullptr;
    CLI::App* agents = nullptr;
    CLI::App* run = nullptr;
    CLI::App* logs = nullptr;
    CLI::App* cp = nullptr;
    CLI::App* sync = nullptr;
    CLI::App* ls = nullptr;
    CLI::App* stat = nullptr;
    CLI::App* rm = nullptr;
    CLI::App* mkdir = nullptr;
    TokenCreateOptions token_options;
    int uses = 1;
    std::string expires;
    bool token_list_json = false;
    std::string token_delete_id;
    std::string apitoken_role;
    RunOptions shell_options;
    std::vector<std::string> shell_env;
    std::string shell_job;
    bool shutdown_graceful = false;
    std::string shutdown_deadline;
    JobOptions job_options;
    int job_step = -1;
    ArtifactOptions artifact_options;
    RepoOptions repo_options;
    SecretOptions secret_options;
    ShellSessionsOptions shell_sessions_options;
    AgentAdminOptions agent_options;
    std::vector<std::pair<CLI::App*, std::string>> agent_actions;
    AgentsOptions agents_options;
    RunOptions run_options;
    std::vector<std::string> run_positionals;
    std::vector<std::string> run_env;
    std::string run_timeout;
    std::string run_shell;
    LogsOptions logs_options;
    CpOptions cp_options;
    SyncOptions sync_options;
    LsOptions ls_options;
    StatOptions stat_options;
    RmOptions rm_options;
    MkdirOptions mkdir_options;

    // remsh token create
    if (wanted("token")) {
        CLI::App* token = app.add_subcommand("token", "manage enrollment tokens (to add agents)");
        token->require_subcommand(1);
        token_create = token->add_subcommand(
            "create",
            "create an enrollment token; prints a summary, then the token alone on the last line "
            "(`remsh token create | tail -n 1`); an agent enrolls with `remsh-agent enroll TOKEN`");
        token_create
            ->add_option("--uses", uses, "how many agents may enroll with it (default 1)")
            ->type_name("N")
            ->check(CLI::Range(1, 1000000));  // the master's bound
        token_create
            ->add_option("--expires", expires,
                         "it expires after DURATION: 90 (seconds), 30s, 10m, 2h, 7d, 1h30m "
                         "(default: never)")
            ->type_name("DURATION")
            ->check(duration_validator());
        token_create
            ->add_option("--label", token_options.labels,
                         "a label for the agents that enroll with it (repeat for several)")
            ->allow_extra_args(false)
            ->type_name("L");

        token_create->add_flag("--approve", token_options.approve,
                               "agents enrolled with it connect but get no work until `remsh agent "
                               "approve NAME`");
        token_list = token->add_subcommand("list", "list enrollment tokens (uses left, expiry, labels)");
        token_list->add_flag("--json", token_list_json, "print the master's JSON answer instead");
        token_delete = token->add_subcommand("delete", "delete an enrollment token: agents can no longer enroll with it");
        token_delete->add_option("ID", token_delete_id, "the token's id (t-..., see remsh token list)")->required();

        token->footer(global_note);
        token_create->footer(global_note);
    }

    // remsh apitoken create|list|delete
    if (wanted("apitoken")) {
        CLI::App* apitoken = app.add_subcommand("apitoken", "manage API tokens (for people and scripts)");
        apitoken->require_subcommand(1);
        apitoken_create = apitoken->add_subcommand(
            "create", "create an API token and print it once; roles: viewer (read only), operator "
                      "(+ run, shell, files, jobs), admin (+ tokens and agents)");
        apitoken_create->add_option("--role", apitoken_role, "viewer, operator or admin")
            ->required()
            ->check(CLI::IsMember({"viewer", "operator", "admin"}));
        apitoken_list = apitoken->add_subcommand("list", "list API tokens: id, role, age (never the tokens themselves)");
        apitoken_list->add_flag("--json", apitoken_list_json, "print the master's JSON answer instead");
        apitoken_delete = apitoken->add_subcommand(
            "delete", "delete an API token: it stops working at once, and its open streams (a shell, a run) are closed (not the state dir's admin token, "
                      "nor the one deleting)");
        apitoken_delete->add_option("ID", apitoken_delete_id, "the token's id (k-..., see remsh apitoken list)")
            ->required();
    }

    // remsh shell
    if (wanted("shell")) {
        shell = app.add_subcommand(
            "shell", "open a shell on an agent, like ssh: a pseudo-terminal when run from a "
                     "terminal (raw mode, window size), plain stdin/stdout otherwise "
                     "(`echo 'ls; exit 3' | remsh shell a` exits 3); exits with the shell's status. "
                     "The agent's owner must allow it (remsh-agent run --allow-shell)");
        shell->add_option("AGENT", shell_options.agent, "the agent (a command may follow `--`)");
        shell->add_option("--job", shell_job,
                          "open it where job ID ran: on its agent, in its directory, with the recipe's env "
                          "(not its secrets); --cwd is then relative to that directory")
            ->type_name("ID");
        shell->add_option("--cwd", shell_options.cwd, "start in this directory (relative to the work directory)")
            ->type_name("DIR");
        shell->add_option("--env", shell_env, "set an environment variable (repeat)")
            ->allow_extra_args(false)
            ->type_name("K=V")
            ->check(env_validator());
    }

    // remsh master shutdown
    if (wanted("master")) {
        CLI::App* master_cmd = app.add_subcommand("master", "the master itself (admin)");
        master_cmd->require_subcommand(1);
        master_shutdown = master_cmd->add_subcommand(
            "shutdown", "stop the master; with --graceful it first starts no new job and waits for the "
                        "running ones (queued jobs continue after a restart)");
        master_shutdown->add_flag("--graceful", shutdown_graceful, "wait for the running jobs first");
        master_shutdown->add_option("--deadline", shutdown_deadline, "stop anyway after this long (default 30m)")
            ->type_name("DURATION")
            ->check(duration_validator());
    }

    // remsh job ...
    if (wanted("job")) {
        CLI::App* job = app.add_subcommand("job", "jobs: recipes the master runs step by step on an agent");
        job->require_subcommand(1);
        job_submit = job->add_subcommand(
            "submit", "queue a job (a YAML recipe, see docs/api.md) or a pipeline (a file with jobs: "
                      "[...]); prints the id of each job queued, one a line. With --wait, streams the "
                      "steps' output and exits 0 if every job succeeds, 1 if one fails, is cancelled, "
                      "times out or is lost");
        job_submit->add_option("FILE", job_options.file, "the recipe or pipeline (YAML); - reads it from standard input")->required();
        job_submit->add_flag("--wait", job_options.wait, "follow the job to its end");
        job_list = job->add_subcommand("list", "the latest jobs, one a line: ID NAME STATE AGENT ...");
        job_list->add_flag("--json", job_options.json, "print the master's JSON answer instead");
        job_show = job->add_subcommand("show", "a job and its steps");
        job_show->add_option("ID", job_options.id, "the job")->required();
        job_show->add_flag("--json", job_options.json, "print the master's JSON answer instead");
        job_cancel = job->add_subcommand("cancel", "cancel a job (a running step's process tree is killed; always: steps still run)");
        job_cancel->add_option("ID", job_options.id, "the job")->required();
        job_release = job->add_subcommand(
            "release", "end a failed job's debug hold now (debug_on_failure:): its agent slot is free again");
        job_release->add_option("ID", job_options.id, "the job")->required();
        job_logs = job->add_subcommand("logs", "a job's output, step by step");
        job_logs->add_option("ID", job_options.id, "the job")->required();
        job_logs->add_flag("-f,--follow", job_options.follow, "follow it until the job ends (exit code as submit --wait)");
        job_logs->add_option("--step", job_step, "only step N (from 0)")->check(CLI::NonNegativeNumber);
    }

    // remsh artifact ...
    if (wanted("artifact")) {
        CLI::App* artifact = app.add_subcommand("artifact", "artifacts: the trees a job's upload: steps kept on the master");
        artifact->require_subcommand(1);
        artifact_list = artifact->add_subcommand("list", "a job's artifacts");
        artifact_list->add_option("JOB", artifact_options.job, "the job")->required();
        artifact_list->add_flag("--json", artifact_options.json, "print the master's JSON answer instead");
        artifact_get = artifact->add_subcommand(
            "get", "download an artifact and extract it into a directory (default ./NAME), or save the archive");
        artifact_get->add_option("JOB", artifact_options.job, "the job")->required();
        artifact_get->add_option("NAME", artifact_options.name, "the artifact")->required();
        auto* artifact_out = artifact_get->add_option("-o,--output", artifact_options.output, "extract into DIR")->type_name("DIR");
        artifact_get->add_option("--archive", artifact_options.archive, "save the tree archive (docs/protocol.md 9.7) as FILE")
            ->type_name("FILE")
            ->excludes(artifact_out);
    }

    // remsh repo ...
    if (wanted("repo")) {
        CLI::App* repo = app.add_subcommand("repo", "repositories the master mirrors for jobs' checkout: steps");
        repo->require_subcommand(1);
        repo_add = repo->add_subcommand(
            "add", "declare a repository (admin) and fetch it at once; prints its HEAD commit");
        repo_add->add_option("NAME", repo_options.name, "what recipes call it (checkout: {repo: NAME})")->required();
        repo_add->add_option("URL", repo_options.url, "file://, https://, ssh://, git:// or user@host:path")->required();
        repo_list = repo->add_subcommand("list", "the repositories, with when each was last fetched");
        repo_list->add_flag("--json", repo_options.json, "print the master's JSON answer instead");
        repo_fetch = repo->add_subcommand("fetch", "fetch a repository now (jobs fetch it anyway); prints its HEAD commit");
        repo_fetch->add_option("NAME", repo_options.name, "the repository")->required();
        repo_remove = repo->add_subcommand("remove", "forget a repository and delete its mirror (admin)");
        repo_remove->add_option("NAME", repo_options.name, "the repository")->required();
    }

    // remsh secret ...
    if (wanted("secret")) {
        CLI::App* secret = app.add_subcommand("secret", "job secrets (admin): values jobs get as variables, masked in logs");
        secret->require_subcommand(1);
        secret_set = secret->add_subcommand(
            "set", "create or replace a secret; its value is read from stdin (a final newline dropped) or --from-file");
        secret_set->add_option("NAME", secret_options.name, "a variable name")->required();
        secret_set->add_option("--from-file", secret_options.from_file, "take the file's bytes as the value")->type_name("FILE");
        secret_list = secret->add_subcommand("list", "the secrets' names (never their values)");
        secret_list->add_flag("--json", secret_options.json, "print the master's JSON answer instead");
        secret_delete = secret->add_subcommand("delete", "delete a secret");
        secret_delete->add_option("NAME", secret_options.name, "the secret")->required();
    }

    // remsh shell-sessions
    if (wanted("shell-sessions")) {
        shell_sessions = app.add_subcommand(
            "shell-sessions", "list the recorded shell sessions (who, which agent, when, how long)");
        shell_sessions->add_flag("--json", shell_sessions_options.json, "print the master's JSON answer instead");
        CLI::App* shell_replay = shell_sessions->add_subcommand(
            "replay", "replay a recorded shell session in this terminal (asciicast v2)");
        shell_replay->add_option("ID", shell_sessions_options.replay_id, "the session's id")->required();
        shell_replay->add_option("--speed", shell_sessions_options.speed, "play faster (2) or slower (0.5)")
            ->check(CLI::PositiveNumber);
        shell_replay->add_option("--idle-limit", shell_sessions_options.idle_limit,
                                 "longest pause between outputs, in seconds (default 2)")
            ->check(CLI::NonNegativeNumber);
        shell_replay->add_flag("--raw", shell_sessions_options.raw,
                               "print the recording itself (asciicast v2: `... --raw | asciinema play -`)");
    }

    // remsh agent ...
    if (wanted("agent")) {
        CLI::App* agent_cmd = app.add_subcommand("agent", "administer agents (admin role for changes)");
        agent_cmd->require_subcommand(1);
        struct AgentAction {
            const char* name;
            const char* help;
        };
        for (const AgentAction& a : {
                 AgentAction{"list", "list the agents (as `remsh agents`)"},
                 AgentAction{"show", "everything the master knows about an agent: facts, owner, policy, work, messages"},
                 AgentAction{"approve", "let a pending agent (token made with --approve) take work"},
                 AgentAction{"drain", "finish the agent's current work and give it nothing new (kept across master restarts)"},
                 AgentAction{"resume", "undo drain: the agent takes new work again"},
                 AgentAction{"revoke", "disconnect the agent at once; its credentials never work again"},
                 AgentAction{"rename", "rename the agent (NAME NEW-NAME); the agent learns its new name"},
                 AgentAction{"message", "send a message to the agent's owner (NAME TEXT): printed in the agent's log, kept until the agent acknowledges it"},
             }) {
            CLI::App* sub = agent_cmd->add_subcommand(a.name, a.help);
            sub->add_flag("--json", agent_options.json, "print the master's JSON answer");
            if (std::string(a.name) != "list") {
                sub->add_option("NAME", agent_options.name, "the agent")->required();
            }
            if (std::string(a.name) == "rename") {
                sub->add_option("NEW-NAME", agent_options.argument, "its new name")->required();
            }
            if (std::string(a.name) == "message") {
                sub->add_option("TEXT", agent_options.argument, "the message")->required();
            }
            agent_actions.emplace_back(sub, a.name);
        }
        CLI::App* agent_label = agent_cmd->add_subcommand("label", "add or remove the agent's labels (the admin's; the owner's own stay)");
        agent_label->require_subcommand(1);
        for (const char* verb : {"add", "remove"}) {
            CLI::App* sub = agent_label->add_subcommand(verb, std::string(verb) + " labels: NAME LABEL...");
            sub->add_option("NAME", agent_options.name, "the agent")->required();
            sub->add_option("LABEL", agent_options.labels, "labels")->required();
            sub->add_flag("--json", agent_options.json, "print the master's JSON answer");
            agent_actions.emplace_back(sub, std::string("label-") + verb);
        }
    }

    // remsh agents
    if (wanted("agents")) {
        agents = app.add_subcommand(
            "agents", "list the agents: NAME STATE LABELS OS/ARCH VERSION LAST-SEEN");
        agents->add_flag("--json", agents_options.json, "print the master's JSON answer instead");

        agents->footer(global_note);
    }

    // remsh run
    if (wanted("run")) {
        run = app.add_subcommand(
            "run", "run a command on an agent (or on every online agent with a label), "
                   "streaming its output; exits with its exit code");
        run->add_option("AGENT", run_positionals,
                        "the agent's name (the command follows `--`)")
            ->type_name("");
        run->add_option("--label", run_options.label,
                        "run on every online agent with this label instead of one AGENT "
                        "(output lines prefixed with [AGENT]; exit code: the highest)")
            ->type_name("L");
        run->add_option("--cwd", run_options.cwd,
                        "working directory on the agent (relative to the agent's work directory)")
            ->type_name("DIR");
        run->add_option("--env", run_env, "set an environment variable for the command (repeat)")
            ->allow_extra_args(false)
            ->type_name("K=V")
            ->check(env_validator());
        run->add_option("--timeout", run_timeout,
                        "kill the command after SECONDS (or a duration: 30s, 10m, 2h)")
            ->type_name("SECONDS")
            ->check(duration_validator());
        run->add_flag("--pty", run_options.pty,
                      "run the command in a pseudo-terminal (interactive programs); the local "
                      "terminal goes raw and is forwarded, with its size");
        run->add_option("--shell", run_shell,
                        "run this shell line (the agent's shell) instead of an argv after `--`")
            ->type_name("LINE");

        run->footer(std::string(run_footer) + global_note);
    }

    // remsh logs
    if (wanted("logs")) {
        logs = app.add_subcommand(
            "logs", "without ID: the recent commands; with ID: that command's output");
        logs->add_option("ID", logs_options.id, "the command's id (see `remsh logs`)")
            ->type_name("")
            ->check(CLI::Validator(
                [](const std::string& id) -> std::string {
                    const bool number = !id.empty() && id.size() <= 18 &&
                                        std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
                    return number ? "" : "'" + id + "' is not a command id (a number: see `remsh logs`)";
                },
                "ID"));
        logs->add_flag("-f,--follow", logs_options.follow,
                       "with ID: keep printing the live output until the command ends");
        logs->add_flag("--exit-code", logs_options.exit_code,
                       "with ID: exit with the command's exit code, as `remsh run` would");
        logs->add_option("-n,--limit", logs_options.limit, "without ID: how many commands (default 20)")
            ->type_name("N")
            ->check(CLI::Range(1, 10000));
        logs->add_flag("--json", logs_options.json, "without ID: print the master's JSON answer");

        logs->footer(std::string(logs_footer) + global_note);
    }

    // remsh cp / sync / ls / stat / rm / mkdir
    if (wanted("cp")) {
        cp = app.add_subcommand(
            "cp", "copy files and directories between this machine and an agent (SRC or DST is "
                  "AGENT:PATH, scp-like); exact bytes, verified by sha256");
        cp->add_flag("-r,--recursive", cp_options.recursive,
                     "copy directories with everything in them (symlinks as links, modes, mtimes, "
                     "empty directories). Into an existing directory, like cp: a directory there is "
                     "never replaced by a file or link, nor a file by a directory; such entries are "
                     "left as they are and reported (exists, exit 255), the rest is copied");
        cp->add_option("SRC", cp_options.source, "a local path or AGENT:PATH")->required()->type_name("");
        cp->add_option("DST", cp_options.destination, "a local path or AGENT:PATH")->required()->type_name("");
        cp->footer(std::string(files_footer) + global_note);
    }

    if (wanted("sync")) {
        sync = app.add_subcommand(
            "sync", "make AGENT:DIR match a local directory, sending only the files that differ "
                    "(by size, mode and sha256); prints what was sent");
        sync->add_option("LOCAL_DIR", sync_options.source, "the local directory")->required()->type_name("");
        sync->add_option("AGENT:DIR", sync_options.destination, "the directory on the agent (created if missing)")
            ->required()
            ->type_name("");
        sync->add_flag("--delete", sync_options.delete_extra, "also remove what AGENT:DIR has and LOCAL_DIR lacks, and replace a directory there where "
                       "LOCAL_DIR has a file or link (without it, that is refused: exists)");
        sync->add_flag("-n,--dry-run", sync_options.dry_run, "only print what would be sent and deleted");
        sync->footer(std::string(files_footer) + global_note);
    }

    if (wanted("ls")) {
        ls = app.add_subcommand("ls", "list a directory on an agent (names; -l for details)");
        ls->add_option("AGENT:PATH", ls_options.target, "what to list (AGENT: alone: the work directory)")
            ->required()
            ->type_name("");
        ls->add_flag("-l", ls_options.long_format, "long format: mode, size, mtime, name (-> target)");
        ls->add_flag("-R,--recursive", ls_options.recursive, "list sub-directories too");
        ls->add_option("--glob", ls_options.glob, "only names matching PATTERN (*, ?, [..])")->type_name("PATTERN");
        ls->add_flag("--json", ls_options.json, "print the agent's entries as JSON lines");
        ls->footer(std::string(files_footer) + global_note);
    }

    if (wanted("stat")) {
        stat = app.add_subcommand("stat", "show type, size, mode and mtime of a path on an agent");
        stat->add_option("AGENT:PATH", stat_options.target, "the path")->required()->type_name("");
        stat->add_flag("--json", stat_options.json, "print the agent's answer (exists: false when absent, exit 0)");
        stat->footer(std::string(files_footer) + global_note);
    }

    if (wanted("rm")) {
        rm = app.add_subcommand("rm", "remove files (with -r, directories) on an agent; every operand is checked first, and nothing is removed when one does not exist (without -f) or is a directory (without -r)");
        rm->add_option("AGENT:PATH", rm_options.targets, "what to remove")->required()->type_name("");
        rm->add_flag("-r,--recursive", rm_options.recursive, "remove directories and their contents");
        rm->add_flag("-f,--force", rm_options.force, "no error for paths that do not exist");
        rm->footer(std::string(files_footer) + global_note);
    }

    if (wanted("mkdir")) {
        mkdir = app.add_subcommand("mkdir", "create directories on an agent");
        mkdir->add_option("AGENT:PATH", mkdir_options.targets, "the directories")->required()->type_name("");
        mkdir->add_flag("-p,--parents", mkdir_options.parents, "create missing parents; no error if it exists");

        mkdir->footer(std::string(files_footer) + global_note);
    }

    app.footer(main_footer);

    try {
        std::vector<const char*> parse_argv;
        parse_argv.push_back(argv[0]);
        for (const std::string& a : args) {
            parse_argv.push_back(a.c_str());
        }
        app.parse(static_cast<int>(parse_argv.size()), parse_argv.data());

        if (parsed(shell)) {
            if (shell_options.agent.empty() == shell_job.empty()) {
                throw CLI::ValidationError("shell", "give an AGENT or --job ID (one of them)");
            }
            shell_options.interactive = true;
            shell_options.command = after_dashes;  // empty: the agent user's login shell
            shell_options.pty = input_kind(0) == InputKind::tty;
            for (const std::string& e : shell_env) {
                shell_options.env.push_back(*split_env_assignment(e));
            }
        }
        if (had_dashes && !parsed(run) && !parsed(shell)) {
            throw CLI::ExtrasError("`--` and a command only go with `remsh run` and `remsh shell`", CLI::ExitCodes::ExtrasError);
        }
        if (parsed(run)) {
            std::vector<std::string> command = run_positionals;
            if (!run_options.label.empty() && had_dashes && !command.empty()) {
                throw CLI::ValidationError("run", "give either AGENT or --label L, not both");
            }
            if (run_options.label.empty()) {
                if (command.empty()) {
                    throw CLI::ValidationError("AGENT", "give an AGENT or --label L");
                }
                run_options.agent = command.front();
                command.erase(command.begin());
            }
            if (had_dashes && !command.empty()) {
                throw CLI::ValidationError("run", "the command goes after `--`, as in "
                                                  "`remsh run AGENT -- CMD ARGS...`; "
                                                  "unexpected: " + command.front());
            }
            command.insert(command.end(), after_dashes.begin(), after_dashes.end());
            if (!run_shell.empty()) {
                if (!command.empty()) {
                    throw CLI::ValidationError("--shell", "give either --shell LINE or a command after `--`");
                }
                run_options.shell = run_shell;
            } else if (command.empty()) {
                throw CLI::ValidationError("run", "no command: `remsh run AGENT -- CMD ARGS...`");
            }
            if (!run_options.label.empty() && run_options.pty) {
                throw CLI::ValidationError("--pty", "--pty needs a single AGENT, not --label");
            }
            run_options.command = std::move(command);
            for (const std::string& e : run_env) {
                run_options.env.push_back(*split_env_assignment(e));
            }
            if (!run_timeout.empty()) {
                run_options.timeout_s = parse_duration_s(run_timeout);
            }
        }
        if (parsed(token_create)) {
            if (token_create->count("--uses") > 0) {
                token_options.uses = uses;
            }
            if (!expires.empty()) {
                token_options.expires_s = parse_duration_s(expires);
            }
        }
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? exit_ok : exit_usage;
    }

    try {
        const ConnectionSettings settings = make_settings(global);
        if (parsed(token_create)) {
            return token_create_command(settings, token_options);
        }
        if (parsed(agents)) {
            return agents_command(settings, agents_options);
        }
        if (parsed(token_list)) {
            return token_list_command(settings, token_list_json);
        }
        if (parsed(token_delete)) {
            return token_delete_command(settings, token_delete_id);
        }
        if (parsed(apitoken_create)) {
            return apitoken_create_command(settings, apitoken_role);
        }
        if (parsed(apitoken_list)) {
            return apitoken_list_command(settings, apitoken_list_json);
        }
        if (parsed(apitoken_delete)) {
            return apitoken_delete_command(settings, apitoken_delete_id);
        }
        for (const auto& [sub, action] : agent_actions) {
            if (parsed(sub)) {
                agent_options.action = action;
                return agent_admin_command(settings, agent_options);
            }
        }
        if (parsed(run)) {
            return run_command(settings, run_options);
        }
        if (parsed(shell)) {
            if (!shell_job.empty()) {
                if (const int code = resolve_shell_job(settings, shell_job, shell_options); code != exit_ok) {
                    return code;
                }
            }
            return run_command(settings, shell_options);
        }
        for (auto [sub, action] : {std::pair{job_submit, "submit"}, std::pair{job_list, "list"},
                                   std::pair{job_show, "show"}, std::pair{job_cancel, "cancel"},
                                   std::pair{job_release, "release"}, std::pair{job_logs, "logs"}}) {
            if (parsed(sub)) {
                job_options.action = action;
                if (job_step >= 0) {
                    job_options.step = job_step;
                }
                return job_command(settings, job_options);
            }
        }
        for (auto [sub, action] : {std::pair{artifact_list, "list"}, std::pair{artifact_get, "get"}}) {
            if (parsed(sub)) {
                artifact_options.action = action;
                return artifact_command(settings, artifact_options);
            }
        }
        for (auto [sub, action] : {std::pair{repo_add, "add"}, std::pair{repo_list, "list"},
                                   std::pair{repo_fetch, "fetch"}, std::pair{repo_remove, "remove"}}) {
            if (parsed(sub)) {
                repo_options.action = action;
                return repo_command(settings, repo_options);
            }
        }
        for (auto [sub, action] : {std::pair{secret_set, "set"}, std::pair{secret_list, "list"},
                                   std::pair{secret_delete, "delete"}}) {
            if (parsed(sub)) {
                secret_options.action = action;
                return secret_command(settings, secret_options);
            }
        }
        if (parsed(master_shutdown)) {
            std::optional<std::int64_t> deadline;
            if (!shutdown_deadline.empty()) {
                deadline = parse_duration_s(shutdown_deadline);
            }
            return master_shutdown_command(settings, shutdown_graceful, deadline);
        }
        if (parsed(shell_sessions)) {
            return shell_sessions_command(settings, shell_sessions_options);
        }
        if (parsed(logs)) {
            return logs_command(settings, logs_options);
        }
        if (parsed(cp)) {
            return cp_command(settings, cp_options);
        }
        if (parsed(sync)) {
            return sync_command(settings, sync_options);
        }
        if (parsed(ls)) {
            return ls_command(settings, ls_options);
        }
        if (parsed(stat)) {
            return stat_command(settings, stat_options);
        }
        if (parsed(rm)) {
            return rm_command(settings, rm_options);
        }
        if (parsed(mkdir)) {
            return mkdir_command(settings, mkdir_options);
        }
    } catch (const CliError& e) {
        print_error(e.tag, e.what());
        return exit_code_for_error_tag(e.tag);
    } catch (const std::exception& e) {
        print_error("error", e.what());
        return exit_error;
    }
    return exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
    const int code = run_cli(argc, argv);
    // Like coreutils' close_stdout: output that did not reach its file must not look complete
    // (`remsh logs 7 > full-disk/x` exiting 0). A reader that went away (EPIPE) is not an error.
    errno = 0;
    std::cout.flush();  // --help and friends print through std::cout
    if (!std::cout && errno != EPIPE) {
        print_error("output-error", "cannot write stdout (the output is incomplete)");
        return exit_error;
    }
    if (const auto failure = output_failure(); failure) {
        if (!failure->reported) {
            print_error("output-error", describe(*failure) + " (the output is incomplete)");
        }
        return exit_error;
    }
    return code;
}
