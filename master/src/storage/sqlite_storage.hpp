// SQLite implementation of Storage: WAL journal, synchronous=NORMAL, foreign keys on,
// busy_timeout 5000 ms, schema versioned in `meta`. Statements are prepared once
// (SQLITE_PREPARE_PERSISTENT) and cached by their SQL text. The bytes of large log chunks
// live beside the database in PATH-logs/ (LogFiles); their rows say where.
#pragma once

#include "storage/log_files.hpp"
#include "storage/storage.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace remsh::master {

inline constexpr int kSqliteSchemaVersion = 5;
// A log chunk at least this large is stored in its command's log file (log_files.hpp), not
// in the database. Smaller ones (most commands' whole output) cost no file.
inline constexpr std::size_t kLogFileChunkBytes = 16 * 1024;

class SqliteStorage final : public Storage {
public:
    // Opens (creating with mode 0600 if missing) the database at `path`; ":memory:" opens a
    // private in-memory database (journal mode "memory", for tests). Throws StorageError.
    explicit SqliteStorage(const std::string& path);
    ~SqliteStorage() override;

    std::optional<std::string> get_setting(const std::string& key) override;
    void set_setting(const std::string& key, const std::string& value) override;

    void add_api_token(const std::string& id, const std::string& secret_sha256_hex,
                       const std::string& role, std::int64_t now_ms) override;
    std::optional<ApiToken> find_api_token_by_hash(const std::string& secret_sha256_hex) override;
    std::vector<ApiToken> list_api_tokens() override;
    void delete_api_token(const std::string& id) override;

    void create_enrollment_token(const EnrollmentTokenRecord& token) override;
    EnrollmentTokenRecord consume_enrollment_token(const std::string& secret_hash,
                                                   std::int64_t now_ms) override;
    std::vector<EnrollmentTokenRecord> list_enrollment_tokens() override;
    void delete_enrollment_token(const std::string& id) override;

    void add_agent(const AgentRecord& agent) override;
    std::optional<AgentRecord> find_agent(const std::string& name) override;
    std::vector<AgentRecord> list_agents() override;
    void update_agent_seen(const std::string& name, const std::string& facts_json,
                           std::int64_t now_ms) override;
    void set_agent_revoked(const std::string& name, bool revoked) override;
    void set_agent_state(const std::string& name, const std::string& state) override;
    void set_agent_draining(const std::string& name, bool draining) override;
    void set_agent_last_seen(const std::string& name, std::int64_t ms) override;
    void set_agent_leaving(const std::string& name, bool leaving) override;
    void set_agent_labels(const std::string& name, const std::vector<std::string>& labels) override;
    void rename_agent(const std::string& name, const std::string& new_name) override;
    std::optional<std::string> resolve_agent_name(const std::string& name) override;
    std::int64_t add_agent_message(const std::string& agent, const std::string& sender,
                                   const std::string& text, std::int64_t now_ms) override;
    std::vector<AgentMessage> list_agent_messages(const std::string& agent,
                                                  bool undelivered_only) override;
    void mark_agent_message_delivered(std::int64_t id, std::int64_t now_ms) override;
    void add_shell_session(const ShellSessionRecord& session) override;
    void finish_shell_session(std::int64_t command_id, std::int64_t ended_ms,
                              std::optional<std::int64_t> exit_code) override;
    std::vector<ShellSessionRecord> list_shell_sessions(std::size_t limit) override;
    std::optional<ShellSessionRecord> get_shell_session(std::int64_t command_id) override;
    std::int64_t create_job(const JobRecord& job, const std::vector<std::string>& step_names) override;
    std::optional<JobRecord> get_job(std::int64_t id) override;
    std::vector<JobRecord> list_jobs(std::size_t limit) override;
    std::vector<JobRecord> queued_jobs() override;
    void start_job(std::int64_t id, const std::string& agent, const std::string& work_dir, std::int64_t now_ms) override;
    void finish_job(std::int64_t id, const std::string& state, const std::optional<std::string>& reason,
                    std::int64_t now_ms) override;
    std::vector<JobStepRecord> job_steps(std::int64_t job_id) override;
    void update_job_step(const JobStepRecord& step) override;
    void requeue_job(std::int64_t id, const std::string& reason) override;
    std::size_t mark_running_jobs_lost(std::int64_t now_ms) override;
    void set_job_pipeline(std::int64_t id, std::int64_t pipeline) override;
    void set_job_debug_until(std::int64_t id, std::optional<std::int64_t> until_ms) override;
    void add_artifact(const ArtifactRecord& artifact) override;
    std::vector<ArtifactRecord> job_artifacts(std::int64_t job_id) override;
    void put_secret(const SecretRecord& secret) override;
    std::optional<SecretRecord> get_secret(const std::string& name) override;
    std::vector<SecretRecord> list_secrets() override;
    bool delete_secret(const std::string& name) override;
    void put_repo(const RepoRecord& repo) override;
    std::vector<RepoRecord> list_repos() override;
    std::optional<RepoRecord> get_repo(const std::string& name) override;
    bool delete_repo(const std::string& name) override;
    void add_job_source(const JobSourceRecord& source) override;
    std::vector<JobSourceRecord> job_sources(std::int64_t job_id) override;
    std::optional<AgentCheckoutRecord> get_agent_checkout(const std::string& agent, const std::string& dir) override;
    void put_agent_checkout(const AgentCheckoutRecord& checkout) override;
    void forget_agent_checkout(const std::string& agent, const std::string& dir) override;

    std::int64_t create_command(const std::string& agent, const std::string& argv_json,
                                const std::optional<std::string>& cwd, std::int64_t now_ms) override;
    void finish_command(std::int64_t id, const CommandFinish& finish) override;
    std::optional<CommandRecord> get_command(std::int64_t id) override;
    std::vector<CommandRecord> list_commands(std::size_t limit) override;
    std::size_t mark_running_commands_lost(std::int64_t now_ms, bool spare_reattachable) override;
    void open_agent_session(const AgentSessionRecord& session) override;
    void set_agent_session_received(const std::string& session, std::uint64_t received) override;
    std::optional<AgentSessionRecord> find_agent_session(const std::string& session) override;
    std::vector<AgentSessionRecord> list_agent_sessions(const std::optional<std::string>& agent) override;
    std::size_t close_agent_session(const std::string& session, std::int64_t now_ms,
                                    const std::string& why) override;
    void set_command_channel(std::int64_t id, const std::string& session, std::uint32_t channel) override;
    std::vector<ReattachableCommand> reattachable_commands(const std::string& session) override;

    void append_log_chunks(const std::vector<LogChunk>& chunks) override;
    std::vector<LogChunk> read_log_chunks(std::int64_t command_id, std::int64_t after_index,
                                          std::size_t max_chunks) override;

    void begin_transaction() override;
    void commit_transaction() override;
    void rollback_transaction() override;

    void close() override;

    // Diagnostics (tests, health checks): the first column of `PRAGMA <name>` on this
    // connection, as text (e.g. "journal_mode" -> "wal"). `name` must be an identifier.
    std::string pragma_value(std::string_view name);
    const std::string& path() const { return path_; }

private:
    class Stmt;
    friend class Stmt;

    struct SqlHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    void check_open() const;
    sqlite3_stmt* prepare(std::string_view sql);
    void exec_cached(std::string_view sql);  // one statement that returns no rows
    void init_schema();
    template <typename T>
    void update_agent(std::string_view sql, const T& value, const std::string& name);
    [[noreturn]] void fail(int rc, const std::string& what) const;

    std::string path_;
    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> statements_;
    int tx_depth_ = 0;
    bool ready_ = false;  // schema checked: the database is ours
    std::unique_ptr<LogFiles> log_files_;  // PATH-logs/; none for ":memory:"
};

}  // namespace remsh::master
