// The master's state store: one interface, backend-neutral. SQLite (WAL) is the embedded
// default (sqlite_storage.hpp); the SQL is kept portable so a PostgreSQL backend can follow.
//
// Conventions:
//   - times are milliseconds since the Unix epoch (std::int64_t), always passed in by the caller
//     (the storage never reads the clock, which keeps it deterministic and testable);
//   - every failure is a StorageError carrying a stable machine tag (see storage_tag) and a
//     human message; "not there" on a lookup is an empty std::optional, not an error;
//   - one Storage object is used from one thread (the master runs one io_context).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace remsh::master {

// Stable machine tags of StorageError.
namespace storage_tag {
inline constexpr const char* error = "storage-error";          // I/O, corruption, SQL failure, misuse
inline constexpr const char* not_found = "not-found";          // the named row does not exist
inline constexpr const char* exists = "exists";                // a unique name/id/index is taken
inline constexpr const char* invalid_argument = "invalid-argument";  // a value out of range
inline constexpr const char* token_invalid = "token-invalid";  // no enrollment token has that secret
inline constexpr const char* token_used_up = "token-used-up";  // the token has no uses left
inline constexpr const char* token_expired = "token-expired";  // the token's expiry has passed
}  // namespace storage_tag

class StorageError : public std::runtime_error {
public:
    StorageError(std::string error_tag, const std::string& message);
    std::string tag;
};

// An HTTP API token. The secret itself is never stored, only its SHA-256 (lowercase hex).
struct ApiToken {
    std::string id;
    std::string role;
    std::int64_t created_ms = 0;
};

struct EnrollmentTokenRecord {
    std::string id;
    std::string secret_hash;  // SHA-256 of the secret, lowercase hex
    int uses_left = 1;        // >= 1 on creation; 0 once used up (the row stays until deleted)
    std::optional<std::int64_t> expires_ms;  // expired when now_ms >= expires_ms
    std::vector<std::string> labels;         // given to the agents that enroll with it
    bool approve = false;                    // agents enrolling with it start "approved"
    std::int64_t created_ms = 0;
};

struct AgentRecord {
    std::string name;
    std::string stored_key_hex;
    std::vector<std::string> labels;
    std::int64_t created_ms = 0;
    std::optional<std::int64_t> last_seen_ms;
    bool revoked = false;
    std::string facts_json = "{}";  // opaque JSON text: OS, arch, agent version, ...
    std::string state = "pending";  // "approved" or "pending"
    bool draining = false;  // an admin's drain: finish current work, accept nothing new
    bool leaving = false;   // the agent announced a graceful leave (cleared when it reconnects)
};

// A message from an operator to an agent's owner (`remsh agent message`), kept until the
// agent acknowledges it (delivered_ms set).
struct AgentMessage {
    std::int64_t id = 0;
    std::string agent;
    std::string sender;
    std::string text;
    std::int64_t created_ms = 0;
    std::optional<std::int64_t> delivered_ms;
};

// A command run on an agent (what `remsh logs` lists).
struct CommandRecord {
    std::int64_t id = 0;
    std::string agent;
    std::string argv_json;  // the JSON array (or the shell line as a JSON string)
    std::optional<std::string> cwd;
    std::string state;  // "running", "finished", "failed", "lost", "cancelled"
    std::optional<std::int64_t> exit_code;
    std::optional<std::string> signal;
    std::optional<std::string> error_tag;
    std::optional<std::string> error_message;
    std::int64_t started_ms = 0;
    std::optional<std::int64_t> finished_ms;
    std::uint64_t stdout_bytes = 0;  // decoded bytes (sum of raw_length); tty output counts here
    std::uint64_t stderr_bytes = 0;
    std::string result_json = "{}";  // opaque JSON text (e.g. rusage)
};

struct AgentSessionRecord {
    std::string session;
    std::string agent;
    std::uint64_t received = 0;
    std::int64_t started_ms = 0;
};

struct ReattachableCommand {
    std::int64_t id = 0;
    std::uint32_t channel = 0;
    std::int64_t next_chunk = 0;  // the index its next log chunk takes
};

struct CommandFinish {
    std::string state = "finished";  // "finished", "failed", "lost" or "cancelled"
    std::optional<std::int64_t> exit_code;
    std::optional<std::string> signal;
    std::optional<std::string> error_tag;
    std::optional<std::string> error_message;
    std::int64_t finished_ms = 0;
    std::string result_json = "{}";

    // A command that never started (no channel, no agent, no recording): "failed" with why.
    static CommandFinish failed(std::string tag, std::string message, std::int64_t finished_ms) {
        CommandFinish f;
        f.state = "failed";
        f.error_tag = std::move(tag);
        f.error_message = std::move(message);
        f.finished_ms = finished_ms;
        return f;
    }
};

// A recorded debug shell (`remsh shell`): the command it ran as, who opened it, and where its
// asciicast recording is (a path relative to the state directory).
struct ShellSessionRecord {
    std::int64_t command_id = 0;
    std::string agent;
    std::string opened_by;  // the API token's id
    int cols = 80;
    int rows = 24;
    std::int64_t started_ms = 0;
    std::optional<std::int64_t> ended_ms;
    std::optional<std::int64_t> exit_code;
    std::string recording;
};

// A job (docs/api.md, "Jobs"): a recipe the master runs step by step on one agent.
// state: queued, running, success, failure, cancelled, timed-out, lost.
struct JobRecord {
    std::int64_t id = 0;
    std::string name;
    std::string recipe;  // the YAML as submitted
    std::string state = "queued";
    std::int64_t priority = 0;  // higher first
    std::optional<std::string> agent;
    std::string submitted_by;  // the API token's id
    std::int64_t submitted_ms = 0;
    std::optional<std::int64_t> started_ms;
    std::optional<std::int64_t> finished_ms;
    std::optional<std::string> reason;  // why it ended as it did, for people
    std::int64_t attempts = 0;              // earlier runs lost with their agent (retries)
    std::vector<std::string> avoid_agents;  // agents it was lost on: it goes elsewhere
    std::optional<std::int64_t> pipeline;   // the first job of the pipeline it was submitted with
    std::vector<std::int64_t> needs;        // jobs that must succeed before it starts
    std::optional<std::string> work_dir;    // on its agent, relative to the agent's work dir
    std::optional<std::int64_t> debug_until_ms;  // a failed job's work dir and slot kept until then
};

// A job's artifact: a tree archive (docs/protocol.md 9.7) the master keeps in its state
// directory (artifacts/JOB/NAME.rta), described here.
struct ArtifactRecord {
    std::int64_t job_id = 0;
    std::string name;
    std::int64_t size = 0;   // bytes of the archive
    std::string sha256;      // of the archive
    std::int64_t entries = 0;
    std::int64_t bytes = 0;  // content bytes of its files
    std::int64_t created_ms = 0;
};

// A repository the master mirrors (remsh repo add).
struct RepoRecord {
    std::string name;
    std::string url;
    std::int64_t created_ms = 0;
    std::optional<std::int64_t> fetched_ms;
};

// A job's source stamp: what one checkout step put where, and what it cost on the wire.
struct JobSourceRecord {
    std::int64_t job_id = 0;
    std::int64_t step = 0;
    std::string repo;
    std::string ref;
    std::string commit;
    std::string dir;          // relative to the agent's work dir
    bool full = false;        // a whole snapshot (else only the difference)
    std::int64_t files_sent = 0;
    std::int64_t bytes_sent = 0;  // of the tree archive sent
    std::int64_t deleted = 0;
};

// The commit a directory of an agent holds (as the master last left it).
struct AgentCheckoutRecord {
    std::string agent;
    std::string dir;
    std::string repo;
    std::string commit;
    std::int64_t updated_ms = 0;
};

// A job secret: its value sealed by the master's SecretBox (never stored in clear).
struct SecretRecord {
    std::string name;
    std::vector<std::uint8_t> sealed;
    std::string updated_by;  // the API token's id
    std::int64_t updated_ms = 0;
};

// state: pending, running, success, failure, skipped, cancelled, timed-out, lost.
struct JobStepRecord {
    std::int64_t job_id = 0;
    std::int64_t index = 0;
    std::string name;
    std::string state = "pending";
    std::optional<std::int64_t> command_id;  // its output: the command's log
    std::optional<std::int64_t> exit_code;
    std::optional<std::int64_t> started_ms;
    std::optional<std::int64_t> finished_ms;
};

inline constexpr std::uint8_t kLogStreamStdout = 1;
inline constexpr std::uint8_t kLogStreamStderr = 2;
inline constexpr std::uint8_t kLogStreamTty = 3;
inline constexpr std::uint8_t kLogCodecNone = 0;
inline constexpr std::uint8_t kLogCodecDeflate = 1;
inline constexpr std::uint8_t kLogCodecZstd = 2;

// One chunk of a command's output, stored exactly as it arrived (still compressed).
struct LogChunk {
    std::int64_t command_id = 0;
    std::int64_t index = 0;  // assigned by the caller, unique per command, >= 0
    std::uint8_t stream = kLogStreamStdout;
    std::uint8_t codec = kLogCodecNone;
    std::vector<std::uint8_t> data;
    std::uint32_t raw_length = 0;  // size once decoded
};

class Storage {
public:
    virtual ~Storage() = default;
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    // --- settings (key/value text)
    virtual std::optional<std::string> get_setting(const std::string& key) = 0;
    virtual void set_setting(const std::string& key, const std::string& value) = 0;

    // --- HTTP API tokens. add: "exists" if the id or the hash is taken.
    virtual void add_api_token(const std::string& id, const std::string& secret_sha256_hex,
                               const std::string& role, std::int64_t now_ms) = 0;
    virtual std::optional<ApiToken> find_api_token_by_hash(const std::string& secret_sha256_hex) = 0;
    // Oldest first.
    virtual std::vector<ApiToken> list_api_tokens() = 0;
    // "not-found" for an unknown id.
    virtual void delete_api_token(const std::string& id) = 0;

    // --- enrollment tokens
    // "exists" if the id or hash is taken; "invalid-argument" if uses_left < 1.
    virtual void create_enrollment_token(const EnrollmentTokenRecord& token) = 0;
    // Atomically: find by hash (else "token-invalid"), check expiry ("token-expired") and uses
    // ("token-used-up"), decrement uses_left. Returns the record after the decrement.
    virtual EnrollmentTokenRecord consume_enrollment_token(const std::string& secret_hash,
                                                           std::int64_t now_ms) = 0;
    virtual std::vector<EnrollmentTokenRecord> list_enrollment_tokens() = 0;  // by created_ms, id
    virtual void delete_enrollment_token(const std::string& id) = 0;  // "not-found"

    // --- agents
    virtual void add_agent(const AgentRecord& agent) = 0;  // "exists" if the name is taken
    virtual std::optional<AgentRecord> find_agent(const std::string& name) = 0;
    virtual std::vector<AgentRecord> list_agents() = 0;  // ordered by name (bytewise)
    // The three updates throw "not-found" for an unknown name.
    virtual void update_agent_seen(const std::string& name, const std::string& facts_json,
                                   std::int64_t now_ms) = 0;
    // When the master last heard from it (its connection ended): what LAST-SEEN shows.
    virtual void set_agent_last_seen(const std::string& name, std::int64_t ms) = 0;
    virtual void set_agent_revoked(const std::string& name, bool revoked) = 0;
    virtual void set_agent_state(const std::string& name, const std::string& state) = 0;
    virtual void set_agent_draining(const std::string& name, bool draining) = 0;
    virtual void set_agent_leaving(const std::string& name, bool leaving) = 0;
    virtual void set_agent_labels(const std::string& name, const std::vector<std::string>& labels) = 0;
    // Renames an agent: "not-found" for an unknown name, "exists" when the new name is taken
    // (by an agent or as an old name). The old name stays an alias (resolve_agent_name), so an
    // agent that still presents it can be recognized; its messages follow it.
    virtual void rename_agent(const std::string& name, const std::string& new_name) = 0;
    // The current name of an agent known by this name or an old one; nullopt if neither.
    virtual std::optional<std::string> resolve_agent_name(const std::string& name) = 0;

    // --- messages to agents' owners
    virtual std::int64_t add_agent_message(const std::string& agent, const std::string& sender,
                                           const std::string& text, std::int64_t now_ms) = 0;
    // All of an agent's messages, oldest first; only the undelivered ones when asked.
    virtual std::vector<AgentMessage> list_agent_messages(const std::string& agent,
                                                          bool undelivered_only) = 0;
    virtual void mark_agent_message_delivered(std::int64_t id, std::int64_t now_ms) = 0;  // "not-found"

    // --- commands
    // New command in state "running"; ids increase.
    virtual std::int64_t create_command(const std::string& agent, const std::string& argv_json,
                                        const std::optional<std::string>& cwd,
                                        std::int64_t now_ms) = 0;
    virtual void finish_command(std::int64_t id, const CommandFinish& finish) = 0;  // "not-found"
    virtual std::optional<CommandRecord> get_command(std::int64_t id) = 0;
    // The most recent `limit` commands, oldest first (newest last).
    virtual std::vector<CommandRecord> list_commands(std::size_t limit) = 0;
    // Master start-up: every "running" command becomes "lost" (error_tag "master-restarted",
    // finished_ms = now_ms) except, with spare_reattachable, the plain commands of a stored
    // agent session, which the agent may re-attach (docs/protocol.md 7.4). Returns how many.
    virtual std::size_t mark_running_commands_lost(std::int64_t now_ms, bool spare_reattachable = false) = 0;

    // --- agent sessions, as far as a restarted master needs them (docs/protocol.md 7.4)
    virtual void open_agent_session(const AgentSessionRecord& session) = 0;
    // The highest seq stored from the agent; written with what it stored (one transaction).
    virtual void set_agent_session_received(const std::string& session, std::uint64_t received) = 0;
    virtual std::optional<AgentSessionRecord> find_agent_session(const std::string& session) = 0;
    // Every stored session, or one agent's.
    virtual std::vector<AgentSessionRecord> list_agent_sessions(const std::optional<std::string>& agent) = 0;
    // Forgets the session; its commands still "running" become "lost" with `why`.
    virtual std::size_t close_agent_session(const std::string& session, std::int64_t now_ms,
                                            const std::string& why) = 0;
    // The command runs on channel `channel` of `session`.
    virtual void set_command_channel(std::int64_t id, const std::string& session, std::uint32_t channel) = 0;
    // The session's running plain commands (not shells, not job steps), which a restarted
    // master re-attaches.
    virtual std::vector<ReattachableCommand> reattachable_commands(const std::string& session) = 0;

    // --- shell sessions. add: "exists" for a taken id; the command must exist.
    virtual void add_shell_session(const ShellSessionRecord& session) = 0;
    virtual void finish_shell_session(std::int64_t command_id, std::int64_t ended_ms,
                                      std::optional<std::int64_t> exit_code) = 0;  // "not-found"
    // The most recent `limit`, oldest first.
    virtual std::vector<ShellSessionRecord> list_shell_sessions(std::size_t limit) = 0;
    virtual std::optional<ShellSessionRecord> get_shell_session(std::int64_t command_id) = 0;

    // --- jobs
    // A queued job with its steps (all pending); returns its id.
    virtual std::int64_t create_job(const JobRecord& job, const std::vector<std::string>& step_names) = 0;
    virtual std::optional<JobRecord> get_job(std::int64_t id) = 0;
    virtual std::vector<JobRecord> list_jobs(std::size_t limit) = 0;  // the latest, oldest first
    virtual std::vector<JobRecord> queued_jobs() = 0;                  // by priority, then id
    virtual void start_job(std::int64_t id, const std::string& agent, const std::string& work_dir,
                           std::int64_t now_ms) = 0;  // "not-found" unless queued
    virtual void finish_job(std::int64_t id, const std::string& state, const std::optional<std::string>& reason,
                            std::int64_t now_ms) = 0;
    virtual std::vector<JobStepRecord> job_steps(std::int64_t job_id) = 0;
    virtual void update_job_step(const JobStepRecord& step) = 0;  // "not-found"
    // A job lost with its agent goes back to the queue for another agent: attempts + 1, its
    // agent added to avoid_agents, its steps pending again (the lost run's commands stay).
    virtual void requeue_job(std::int64_t id, const std::string& reason) = 0;  // "not-found"
    // Master start-up: running jobs (and their running steps) become lost. Returns how many.
    virtual std::size_t mark_running_jobs_lost(std::int64_t now_ms) = 0;
    virtual void set_job_pipeline(std::int64_t id, std::int64_t pipeline) = 0;  // "not-found"
    virtual void set_job_debug_until(std::int64_t id, std::optional<std::int64_t> until_ms) = 0;  // "not-found"

    // --- artifacts. add replaces the job's artifact of the same name.
    virtual void add_artifact(const ArtifactRecord& artifact) = 0;
    virtual std::vector<ArtifactRecord> job_artifacts(std::int64_t job_id) = 0;  // by name

    // --- secrets. put creates or replaces; delete returns whether it existed.
    virtual void put_secret(const SecretRecord& secret) = 0;
    virtual std::optional<SecretRecord> get_secret(const std::string& name) = 0;
    virtual std::vector<SecretRecord> list_secrets() = 0;  // by name
    virtual bool delete_secret(const std::string& name) = 0;

    // --- repositories, source stamps, agents' checkouts
    virtual void put_repo(const RepoRecord& repo) = 0;  // creates or replaces
    virtual std::vector<RepoRecord> list_repos() = 0;
    virtual std::optional<RepoRecord> get_repo(const std::string& name) = 0;
    virtual bool delete_repo(const std::string& name) = 0;
    virtual void add_job_source(const JobSourceRecord& source) = 0;
    virtual std::vector<JobSourceRecord> job_sources(std::int64_t job_id) = 0;  // by step
    virtual std::optional<AgentCheckoutRecord> get_agent_checkout(const std::string& agent, const std::string& dir) = 0;
    virtual void put_agent_checkout(const AgentCheckoutRecord& checkout) = 0;
    virtual void forget_agent_checkout(const std::string& agent, const std::string& dir) = 0;

    // --- command logs
    // All chunks in one transaction (all or none); adds each raw_length to its command's
    // stdout_bytes (streams 1 and 3) or stderr_bytes (stream 2). "not-found" if a command does
    // not exist, "exists" if a (command_id, index) is already stored, "invalid-argument" for an
    // unknown stream/codec or a negative index.
    virtual void append_log_chunks(const std::vector<LogChunk>& chunks) = 0;
    // Chunks with index > after_index (-1: from the start), in index order, at most max_chunks.
    virtual std::vector<LogChunk> read_log_chunks(std::int64_t command_id, std::int64_t after_index,
                                                  std::size_t max_chunks) = 0;

    // --- transactions. Prefer Transaction / in_transaction to these. They nest (an inner level
    // is a savepoint), and every operation above may run inside a caller's transaction.
    virtual void begin_transaction() = 0;
    virtual void commit_transaction() = 0;    // closes the level even when it throws
    virtual void rollback_transaction() = 0;
    // Runs fn in a transaction: committed if fn returns, rolled back (and rethrown) if it throws.
    void in_transaction(const std::function<void()>& fn);

    // Releases the database (rolling back an open transaction). Idempotent; the destructor
    // calls it. Any other call afterwards throws "storage-error".
    virtual void close() = 0;

protected:
    Storage() = default;
};

// RAII transaction: rolls back on destruction unless commit() was called.
class Transaction {
public:
    explicit Transaction(Storage& storage);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();
    void rollback();

private:
    Storage* storage_;  // null once committed or rolled back
};

// The SQLite backend (sqlite_storage.hpp): opens or creates the database file (mode 0600 when
// created) and its schema.
std::unique_ptr<Storage> open_sqlite_storage(const std::string& path);

}  // namespace remsh::master
