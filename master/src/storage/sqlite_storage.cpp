#include "storage/sqlite_storage.hpp"

#include <sqlite3.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <span>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remsh::master {

namespace {

// The schema, version 1. Portable SQL: INTEGER/TEXT/BLOB columns, CHECK constraints, no
// AUTOINCREMENT (commands.id is INTEGER PRIMARY KEY and commands are never deleted, so ids
// increase). A PostgreSQL backend maps INTEGER -> BIGINT, BLOB -> BYTEA and the commands.id
// column to an identity column; the statements below need no other change.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS enrollment_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    uses_left   INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_ms  INTEGER,
    labels_json TEXT NOT NULL,
    approve     INTEGER NOT NULL CHECK (approve IN (0, 1)),
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    name           TEXT PRIMARY KEY,
    stored_key_hex TEXT NOT NULL,
    labels_json    TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    last_seen_ms   INTEGER,
    revoked        INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    facts_json     TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('approved', 'pending'))
);
CREATE TABLE IF NOT EXISTS commands (
    id            INTEGER PRIMARY KEY,
    agent         TEXT NOT NULL,
    argv_json     TEXT NOT NULL,
    cwd           TEXT,
    state         TEXT NOT NULL
                  CHECK (state IN ('running', 'finished', 'failed', 'lost', 'cancelled')),
    exit_code     INTEGER,
    signal        TEXT,
    error_tag     TEXT,
    error_message TEXT,
    started_ms    INTEGER NOT NULL,
    finished_ms   INTEGER,
    stdout_bytes  INTEGER NOT NULL,
    stderr_bytes  INTEGER NOT NULL,
    result_json   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_running ON commands (id) WHERE state = 'running';
CREATE TABLE IF NOT EXISTS log_chunks (
    command_id INTEGER NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL CHECK (idx >= 0),
    stream     INTEGER NOT NULL,
    codec      INTEGER NOT NULL,
    raw_length INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (command_id, idx)
);
)sql";

// Version 2: drain and graceful leave, renames (old names stay aliases), messages to owners,
// recorded shell sessions, jobs and their steps.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE agents ADD COLUMN draining INTEGER NOT NULL DEFAULT 0 CHECK (draining IN (0, 1));
ALTER TABLE agents ADD COLUMN leaving INTEGER NOT NULL DEFAULT 0 CHECK (leaving IN (0, 1));
CREATE TABLE IF NOT EXISTS agent_aliases (
    old_name TEXT PRIMARY KEY,
    name     TEXT NOT NULL REFERENCES agents (name) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS agent_messages (
    id           INTEGER PRIMARY KEY,
    agent        TEXT NOT NULL REFERENCES agents (name) ON UPDATE CASCADE ON DELETE CASCADE,
    sender       TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    delivered_ms INTEGER
);
CREATE INDEX IF NOT EXISTS agent_messages_by_agent ON agent_messages (agent, id);
CREATE TABLE IF NOT EXISTS shell_sessions (
    command_id INTEGER PRIMARY KEY REFERENCES commands (id) ON DELETE CASCADE,
    agent      TEXT NOT NULL,
    opened_by  TEXT NOT NULL,
    cols       INTEGER NOT NULL,
    rows       INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER,
    exit_code  INTEGER,
    recording  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    recipe       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failure',
                                                'cancelled', 'timed-out', 'lost')),
    priority     INTEGER NOT NULL,
    agent        TEXT,
    submitted_by TEXT NOT NULL,
    submitted_ms INTEGER NOT NULL,
    started_ms   INTEGER,
    finished_ms  INTEGER,
    reason       TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    avoid_agents TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (priority DESC, id) WHERE state = 'queued';
CREATE TABLE IF NOT EXISTS job_steps (
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'success', 'failure',
                                               'skipped', 'cancelled', 'timed-out', 'lost')),
    command_id  INTEGER,
    exit_code   INTEGER,
    started_ms  INTEGER,
    finished_ms INTEGER,
    PRIMARY KEY (job_id, idx)
);
)sql";

// Version 3: pipelines (jobs that need other jobs), per-job work dirs kept for debugging,
// artifacts, the secret store, repositories with jobs' source stamps and what each agent's
// directories hold.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE jobs ADD COLUMN pipeline INTEGER;
ALTER TABLE jobs ADD COLUMN needs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN work_dir TEXT;
ALTER TABLE jobs ADD COLUMN debug_until_ms INTEGER;
CREATE TABLE IF NOT EXISTS artifacts (
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    entries    INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, name)
);
CREATE TABLE IF NOT EXISTS repos (
    name       TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    fetched_ms INTEGER
);
CREATE TABLE IF NOT EXISTS job_sources (
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    repo       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    commit_id  TEXT NOT NULL,
    dir        TEXT NOT NULL,
    full       INTEGER NOT NULL DEFAULT 0,
    files_sent INTEGER NOT NULL DEFAULT 0,
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    deleted    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, step)
);
CREATE TABLE IF NOT EXISTS agent_checkouts (
    agent      TEXT NOT NULL REFERENCES agents (name) ON UPDATE CASCADE ON DELETE CASCADE,
    dir        TEXT NOT NULL,
    repo       TEXT NOT NULL,
    commit_id  TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (agent, dir)
);
CREATE TABLE IF NOT EXISTS secrets (
    name       TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    updated_by TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
)sql";

// Version 4: what a restarted master needs to re-attach the commands agents kept running
// (docs/protocol.md 7.4): each session's stored position, each command's session and channel.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE commands ADD COLUMN session TEXT;
ALTER TABLE commands ADD COLUMN channel INTEGER;
CREATE INDEX IF NOT EXISTS commands_by_session ON commands (session) WHERE state = 'running';
CREATE TABLE IF NOT EXISTS agent_sessions (
    session    TEXT PRIMARY KEY,
    agent      TEXT NOT NULL,
    received   INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
    started_ms INTEGER NOT NULL
);
)sql";

// Version 5: a large log chunk's bytes live in the command's log file (log_files.hpp); its
// row holds an empty `data` and where the bytes are. Rows stored before keep theirs inline.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE log_chunks ADD COLUMN file_offset INTEGER CHECK (file_offset >= 0);
ALTER TABLE log_chunks ADD COLUMN file_length INTEGER CHECK (file_length >= 0);
)sql";

#define REMSH_TOKEN_COLUMNS "id, secret_hash, uses_left, expires_ms, labels_json, approve, created_ms"
#define REMSH_AGENT_COLUMNS \
    "name, stored_key_hex, labels_json, created_ms, last_seen_ms, revoked, facts_json, state, " \
    "draining, leaving"
#define REMSH_COMMAND_COLUMNS                                                                 \
    "id, agent, argv_json, cwd, state, exit_code, signal, error_tag, error_message, started_ms, " \
    "finished_ms, stdout_bytes, stderr_bytes, result_json"

[[noreturn]] void throw_tag(const char* tag, const std::string& message) {
    throw StorageError(tag, message);
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string labels_to_json(const std::vector<std::string>& labels) {
    boost::json::array array;
    array.reserve(labels.size());
    for (const auto& label : labels) {
        array.emplace_back(boost::json::string_view(label.data(), label.size()));
    }
    std::string text = boost::json::serialize(array);
    // Boost.JSON serializes bytes as they are; refuse what it could not read back.
    boost::system::error_code ec;
    (void)boost::json::parse(text, ec);
    if (ec) {
        throw_tag(storage_tag::invalid_argument, "labels must be valid UTF-8");
    }
    return text;
}

std::vector<std::string> labels_from_json(const std::string& text) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(text, ec);
    if (ec || !value.is_array()) {
        throw_tag(storage_tag::error, "corrupt labels_json in the database: " + text);
    }
    std::vector<std::string> labels;
    labels.reserve(value.as_array().size());
    for (const auto& item : value.as_array()) {
        if (!item.is_string()) {
            throw_tag(storage_tag::error, "corrupt labels_json in the database: " + text);
        }
        labels.emplace_back(item.as_string().data(), item.as_string().size());
    }
    return labels;
}

bool is_agent_state(const std::string& state) { return state == "approved" || state == "pending"; }

bool is_final_command_state(const std::string& state) {
    return state == "finished" || state == "failed" || state == "lost" || state == "cancelled";
}

std::int64_t clamp_limit(std::size_t n) {
    constexpr auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(std::min(n, max));
}

// Creates `path` with mode 0600 if it does not exist yet (SQLite would use 0644 minus umask;
// its -wal and -shm files copy the database file's mode). An existing file is left alone.
void create_private_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0) {
        if (errno == EEXIST) {
            return;
        }
        throw_tag(storage_tag::error,
                  "cannot create database file " + path + ": " + std::strerror(errno));
    }
    ::fchmod(fd, S_IRUSR | S_IWUSR);  // exactly 0600 whatever the umask
    ::close(fd);
}

}  // namespace

// A cached prepared statement in use: bindings and the cursor are reset when it goes out of
// scope. Text and blob parameters are bound without copying (SQLITE_STATIC), so they must
// outlive the Stmt: binding a temporary does not compile.
class SqliteStorage::Stmt {
public:
    Stmt(SqliteStorage& owner, std::string_view sql) : owner_(owner), st_(owner.prepare(sql)) {}
    ~Stmt() {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(st_, i, v)); }
    Stmt& bind(int i, const std::string& v) {
        return check(sqlite3_bind_text64(st_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
    }
    Stmt& bind(int i, std::string&&) = delete;
    Stmt& bind(int i, const std::optional<std::int64_t>& v) {
        return v ? bind(i, *v) : check(sqlite3_bind_null(st_, i));
    }
    Stmt& bind(int i, const std::optional<std::string>& v) {
        return v ? bind(i, *v) : check(sqlite3_bind_null(st_, i));
    }
    Stmt& bind(int i, std::optional<std::string>&&) = delete;
    Stmt& bind_blob(int i, std::span<const std::uint8_t> data) {
        if (data.empty()) {  // a null pointer would bind SQL NULL, not an empty blob
            return check(sqlite3_bind_zeroblob(st_, i, 0));
        }
        return check(sqlite3_bind_blob64(st_, i, data.data(), data.size(), SQLITE_STATIC));
    }

    // true: a row is available; false: done.
    bool step() {
        const int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) {
            return true;
        }
        if (rc == SQLITE_DONE) {
            return false;
        }
        owner_.fail(rc, statement_text());
    }
    // Runs a statement that returns no rows; returns the number of rows it changed.
    std::int64_t run() {
        while (step()) {
        }
        return sqlite3_changes64(owner_.db_);
    }
    // Runs an INSERT ... RETURNING id; returns the id.
    std::int64_t returned_id() {
        if (!step()) {
            throw_tag(storage_tag::error, "INSERT ... RETURNING id returned no row");
        }
        const std::int64_t id = int64(0);
        while (step()) {
        }
        return id;
    }
    void reset() { sqlite3_reset(st_); }

    bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
    std::int64_t int64(int c) const { return sqlite3_column_int64(st_, c); }
    std::optional<std::int64_t> opt_int64(int c) const {
        return is_null(c) ? std::nullopt : std::optional<std::int64_t>(int64(c));
    }
    std::string text(int c) const {
        const unsigned char* p = sqlite3_column_text(st_, c);
        const int n = sqlite3_column_bytes(st_, c);
        return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
    }
    std::optional<std::string> opt_text(int c) const {
        return is_null(c) ? std::nullopt : std::optional<std::string>(text(c));
    }
    std::vector<std::uint8_t> blob(int c) const {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st_, c));
        const int n = sqlite3_column_bytes(st_, c);
        return (p == nullptr || n <= 0) ? std::vector<std::uint8_t>() : std::vector<std::uint8_t>(p, p + n);
    }

private:
    Stmt& check(int rc) {
        if (rc != SQLITE_OK) {
            owner_.fail(rc, "bind: " + statement_text());
        }
        return *this;
    }
    std::string statement_text() const {
        std::string sql = sqlite3_sql(st_);
        std::replace(sql.begin(), sql.end(), '\n', ' ');
        if (sql.size() > 100) {
            sql.resize(100);
            sql += "...";
        }
        return sql;
    }

    SqliteStorage& owner_;
    sqlite3_stmt* st_;
};

namespace {

EnrollmentTokenRecord read_token(const auto& q) {
    EnrollmentTokenRecord t;
    t.id = q.text(0);
    t.secret_hash = q.text(1);
    t.uses_left = static_cast<int>(q.int64(2));
    t.expires_ms = q.opt_int64(3);
    t.labels = labels_from_json(q.text(4));
    t.approve = q.int64(5) != 0;
    t.created_ms = q.int64(6);
    return t;
}

AgentRecord read_agent(const auto& q) {
    AgentRecord a;
    a.name = q.text(0);
    a.stored_key_hex = q.text(1);
    a.labels = labels_from_json(q.text(2));
    a.created_ms = q.int64(3);
    a.last_seen_ms = q.opt_int64(4);
    a.revoked = q.int64(5) != 0;
    a.facts_json = q.text(6);
    a.state = q.text(7);
    a.draining = q.int64(8) != 0;
    a.leaving = q.int64(9) != 0;
    return a;
}

CommandRecord read_command(const auto& q) {
    CommandRecord c;
    c.id = q.int64(0);
    c.agent = q.text(1);
    c.argv_json = q.text(2);
    c.cwd = q.opt_text(3);
    c.state = q.text(4);
    c.exit_code = q.opt_int64(5);
    c.signal = q.opt_text(6);
    c.error_tag = q.opt_text(7);
    c.error_message = q.opt_text(8);
    c.started_ms = q.int64(9);
    c.finished_ms = q.opt_int64(10);
    c.stdout_bytes = static_cast<std::uint64_t>(q.int64(11));
    c.stderr_bytes = static_cast<std::uint64_t>(q.int64(12));
    c.result_json = q.text(13);
    return c;
}

// Rethrows a StorageError tagged "exists" with a readable message; anything else unchanged.
template <typename Fn>
void with_exists_message(const std::string& message, Fn&& fn) {
    try {
        fn();
    } catch (const StorageError& e) {
        if (e.tag == storage_tag::exists) {
            throw_tag(storage_tag::exists, message);
        }
        throw;
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Opening and closing

SqliteStorage::SqliteStorage(const std::string& path) : path_(path) {
    const bool in_memory = path == ":memory:";
    if (!in_memory) {
        create_private_file(path);
    }
    const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
        std::string message = "cannot open database " + path + ": " +
                              (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
        sqlite3_close(db_);
        db_ = nullptr;
        throw_tag(storage_tag::error, message);
    }
    try {
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 5000);
        exec_cached("PRAGMA foreign_keys = ON");
        // Only takes effect while the database is still empty (before WAL is switched on).
        // Log chunks are ~64 KiB blobs: 16 KiB pages write them with a quarter of the WAL
        // frames (and syscalls) of the 4 KiB default, about 1.5-2x the append throughput,
        // while a small-row update still costs just one 16 KiB frame.
        exec_cached("PRAGMA page_size = 16384");
        if (pragma_value("foreign_keys") != "1") {
            throw_tag(storage_tag::error, "this SQLite does not enforce foreign keys");
        }
        std::string mode;
        {
            Stmt q(*this, "PRAGMA journal_mode = WAL");
            if (q.step()) {
                mode = q.text(0);
            }
        }
        if (mode != (in_memory ? "memory" : "wal")) {
            throw_tag(storage_tag::error, "cannot switch " + path + " to WAL journal mode (got \"" +
                                              mode + "\")");
        }
        exec_cached("PRAGMA synchronous = NORMAL");
        init_schema();
        if (!in_memory) {
            log_files_ = std::make_unique<LogFiles>(path + "-logs");
        }
        ready_ = true;
    } catch (...) {
        close();
        throw;
    }
}

SqliteStorage::~SqliteStorage() { close(); }

void SqliteStorage::close() {
    if (db_ == nullptr) {
        return;
    }
    if (tx_depth_ > 0 && sqlite3_get_autocommit(db_) == 0) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    tx_depth_ = 0;
    for (auto& entry : statements_) {
        sqlite3_finalize(entry.second);
    }
    statements_.clear();
    if (ready_) {
        sqlite3_exec(db_, "PRAGMA optimize", nullptr, nullptr, nullptr);
    }
    ready_ = false;
    log_files_.reset();
    sqlite3_close_v2(db_);  // last connection: checkpoints and removes the WAL
    db_ = nullptr;
}

void SqliteStorage::check_open() const {
    if (db_ == nullptr) {
        throw_tag(storage_tag::error, "storage is closed");
    }
}

void SqliteStorage::init_schema() {
    Transaction tx(*this);
    exec_cached("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)");
    std::optional<std::string> version;
    {
        Stmt q(*this, "SELECT value FROM meta WHERE name = 'schema_version'");
        if (q.step()) {
            version = q.text(0);
        }
    }
    // Each version's script takes the database from the one before (version 1 creates it).
    const char* const scripts[] = {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4, kSchemaV5};
    static_assert(std::size(scripts) == kSqliteSchemaVersion);
    for (int next = version ? std::stoi(*version) + 1 : 1; next <= kSqliteSchemaVersion; ++next) {
        char* error = nullptr;
        const int rc = sqlite3_exec(db_, scripts[next - 1], nullptr, nullptr, &error);
        if (rc != SQLITE_OK) {
            std::string message = (next == 1 ? std::string("cannot create the schema: ")
                                             : "cannot upgrade the schema to version " + std::to_string(next) + ": ") +
                                  std::string(error != nullptr ? error : sqlite3_errstr(rc));
            sqlite3_free(error);
            throw_tag(storage_tag::error, message);
        }
        exec_cached(next == 1 ? "INSERT INTO meta (name, value) VALUES ('schema_version', '1')"
                              : "UPDATE meta SET value = '" + std::to_string(next) + "' WHERE name = 'schema_version'");
        version = std::to_string(next);
    }
    if (*version != std::to_string(kSqliteSchemaVersion)) {
        throw_tag(storage_tag::error, "database " + path_ + " has schema version " + *version +
                                          "; this master supports version " +
                                          std::to_string(kSqliteSchemaVersion));
    }
    tx.commit();
}

sqlite3_stmt* SqliteStorage::prepare(std::string_view sql) {
    check_open();
    if (auto it = statements_.find(sql); it != statements_.end()) {
        return it->second;
    }
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK) {
        fail(rc, "prepare: " + std::string(sql));
    }
    if (st == nullptr || std::string_view(tail, sql.data() + sql.size() - tail)
                                 .find_first_not_of(" \t\r\n;") != std::string_view::npos) {
        sqlite3_finalize(st);
        throw_tag(storage_tag::error, "prepare: not exactly one statement: " + std::string(sql));
    }
    try {
        statements_.emplace(std::string(sql), st);
    } catch (...) {
        sqlite3_finalize(st);
        throw;
    }
    return st;
}

void SqliteStorage::exec_cached(std::string_view sql) {
    Stmt s(*this, sql);
    s.run();
}

void SqliteStorage::fail(int rc, const std::string& what) const {
    std::string message = std::string(db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)) +
                          " [" + what + "]";
    const char* tag = storage_tag::error;
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        tag = storage_tag::exists;
        break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        tag = storage_tag::not_found;
        break;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        tag = storage_tag::invalid_argument;
        break;
    default:
        break;
    }
    throw_tag(tag, message);
}

std::string SqliteStorage::pragma_value(std::string_view name) {
    check_open();
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string_view::npos) {
        throw_tag(storage_tag::invalid_argument, "not a pragma name: " + std::string(name));
    }
    const std::string sql = "PRAGMA " + std::string(name);
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        fail(rc, sql);
    }
    std::string value;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char* p = sqlite3_column_text(st, 0);
        if (p != nullptr) {
            value.assign(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(rc, sql);
    }
    return value;
}

// ---------------------------------------------------------------------------------------------
// Transactions: the outermost level is BEGIN IMMEDIATE (take the write lock up front, so a
// read-then-write never fails half-way on SQLITE_BUSY), inner levels are savepoints.

void SqliteStorage::begin_transaction() {
    check_open();
    if (tx_depth_ == 0) {
        exec_cached("BEGIN IMMEDIATE");
    } else {
        if (sqlite3_get_autocommit(db_) != 0) {
            throw_tag(storage_tag::error, "the enclosing transaction was already rolled back");
        }
        exec_cached("SAVEPOINT remsh_nested");
    }
    ++tx_depth_;
}

void SqliteStorage::commit_transaction() {
    check_open();
    if (tx_depth_ == 0) {
        throw_tag(storage_tag::error, "commit without a transaction");
    }
    --tx_depth_;
    if (sqlite3_get_autocommit(db_) != 0) {
        // SQLite rolled the whole transaction back after an error (disk full, I/O error...).
        throw_tag(storage_tag::error, "the transaction was rolled back after an earlier error");
    }
    try {
        exec_cached(tx_depth_ == 0 ? "COMMIT" : "RELEASE remsh_nested");
    } catch (...) {
        // Close the level anyway: undo what it did.
        if (sqlite3_get_autocommit(db_) == 0) {
            if (tx_depth_ == 0) {
                sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            } else {
                sqlite3_exec(db_, "ROLLBACK TO remsh_nested; RELEASE remsh_nested", nullptr,
                             nullptr, nullptr);
            }
        }
        throw;
    }
}

void SqliteStorage::rollback_transaction() {
    check_open();
    if (tx_depth_ == 0) {
        throw_tag(storage_tag::error, "rollback without a transaction");
    }
    --tx_depth_;
    if (sqlite3_get_autocommit(db_) != 0) {
        return;  // already rolled back by SQLite
    }
    if (tx_depth_ == 0) {
        exec_cached("ROLLBACK");
    } else {
        exec_cached("ROLLBACK TO remsh_nested");
        exec_cached("RELEASE remsh_nested");
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

std::optional<std::string> SqliteStorage::get_setting(const std::string& key) {
    Stmt q(*this, "SELECT value FROM settings WHERE name = ?");
    q.bind(1, key);
    if (!q.step()) {
        return std::nullopt;
    }
    return q.text(0);
}

void SqliteStorage::set_setting(const std::string& key, const std::string& value) {
    Stmt q(*this,
           "INSERT INTO settings (name, value) VALUES (?, ?) "
           "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    q.bind(1, key).bind(2, value);
    q.run();
}

// ---------------------------------------------------------------------------------------------
// API tokens

void SqliteStorage::add_api_token(const std::string& id, const std::string& secret_sha256_hex,
                                  const std::string& role, std::int64_t now_ms) {
    with_exists_message("API token " + quoted(id) + " (or its secret) already exists", [&] {
        Stmt q(*this,
               "INSERT INTO api_tokens (id, secret_hash, role, created_ms) VALUES (?, ?, ?, ?)");
        q.bind(1, id).bind(2, secret_sha256_hex).bind(3, role).bind(4, now_ms);
        q.run();
    });
}

std::optional<ApiToken> SqliteStorage::find_api_token_by_hash(const std::string& secret_sha256_hex) {
    Stmt q(*this, "SELECT id, role, created_ms FROM api_tokens WHERE secret_hash = ?");
    q.bind(1, secret_sha256_hex);
    if (!q.step()) {
        return std::nullopt;
    }
    return ApiToken{.id = q.text(0), .role = q.text(1), .created_ms = q.int64(2)};
}

std::vector<ApiToken> SqliteStorage::list_api_tokens() {
    Stmt q(*this, "SELECT id, role, created_ms FROM api_tokens ORDER BY created_ms, id");
    std::vector<ApiToken> out;
    while (q.step()) {
        out.push_back(ApiToken{.id = q.text(0), .role = q.text(1), .created_ms = q.int64(2)});
    }
    return out;
}

void SqliteStorage::delete_api_token(const std::string& id) {
    Stmt q(*this, "DELETE FROM api_tokens WHERE id = ?");
    q.bind(1, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no API token " + quoted(id));
    }
}

// ---------------------------------------------------------------------------------------------
// Enrollment tokens

void SqliteStorage::create_enrollment_token(const EnrollmentTokenRecord& token) {
    if (token.uses_left < 1) {
        throw_tag(storage_tag::invalid_argument, "an enrollment token needs uses_left >= 1");
    }
    const std::string labels = labels_to_json(token.labels);
    with_exists_message("enrollment token " + quoted(token.id) + " (or its secret) already exists",
                        [&] {
                            Stmt q(*this, "INSERT INTO enrollment_tokens (" REMSH_TOKEN_COLUMNS
                                          ") VALUES (?, ?, ?, ?, ?, ?, ?)");
                            q.bind(1, token.id)
                                .bind(2, token.secret_hash)
                                .bind(3, std::int64_t{token.uses_left})
                                .bind(4, token.expires_ms)
                                .bind(5, labels)
                                .bind(6, std::int64_t{token.approve ? 1 : 0})
                                .bind(7, token.created_ms);
                            q.run();
                        });
}

EnrollmentTokenRecord SqliteStorage::consume_enrollment_token(const std::string& secret_hash,
                                                              std::int64_t now_ms) {
    Transaction tx(*this);
    std::optional<EnrollmentTokenRecord> token;
    {
        Stmt q(*this, "SELECT " REMSH_TOKEN_COLUMNS " FROM enrollment_tokens WHERE secret_hash = ?");
        q.bind(1, secret_hash);
        if (q.step()) {
            token = read_token(q);
        }
    }
    if (!token) {
        throw_tag(storage_tag::token_invalid, "no such enrollment token");
    }
    if (token->expires_ms && now_ms >= *token->expires_ms) {
        throw_tag(storage_tag::token_expired, "enrollment token " + quoted(token->id) + " has expired");
    }
    const std::string used_up = "enrollment token " + quoted(token->id) + " has no uses left";
    if (token->uses_left <= 0) {
        throw_tag(storage_tag::token_used_up, used_up);
    }
    {
        Stmt u(*this,
               "UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0");
        u.bind(1, token->id);
        if (u.run() != 1) {
            throw_tag(storage_tag::token_used_up, used_up);
        }
    }
    tx.commit();
    --token->uses_left;
    return std::move(*token);
}

std::vector<EnrollmentTokenRecord> SqliteStorage::list_enrollment_tokens() {
    Stmt q(*this, "SELECT " REMSH_TOKEN_COLUMNS " FROM enrollment_tokens ORDER BY created_ms, id");
    std::vector<EnrollmentTokenRecord> tokens;
    while (q.step()) {
        tokens.push_back(read_token(q));
    }
    return tokens;
}

void SqliteStorage::delete_enrollment_token(const std::string& id) {
    Stmt q(*this, "DELETE FROM enrollment_tokens WHERE id = ?");
    q.bind(1, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no enrollment token " + quoted(id));
    }
}

// ---------------------------------------------------------------------------------------------
// Agents

void SqliteStorage::add_agent(const AgentRecord& agent) {
    if (!is_agent_state(agent.state)) {
        throw_tag(storage_tag::invalid_argument, "agent state must be \"approved\" or \"pending\"");
    }
    const std::string labels = labels_to_json(agent.labels);
    with_exists_message("agent " + quoted(agent.name) + " already exists", [&] {
        Stmt q(*this, "INSERT INTO agents (" REMSH_AGENT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        q.bind(1, agent.name)
            .bind(2, agent.stored_key_hex)
            .bind(3, labels)
            .bind(4, agent.created_ms)
            .bind(5, agent.last_seen_ms)
            .bind(6, std::int64_t{agent.revoked ? 1 : 0})
            .bind(7, agent.facts_json)
            .bind(8, agent.state)
            .bind(9, std::int64_t{agent.draining ? 1 : 0})
            .bind(10, std::int64_t{agent.leaving ? 1 : 0});
        q.run();
    });
}

std::optional<AgentRecord> SqliteStorage::find_agent(const std::string& name) {
    Stmt q(*this, "SELECT " REMSH_AGENT_COLUMNS " FROM agents WHERE name = ?");
    q.bind(1, name);
    if (!q.step()) {
        return std::nullopt;
    }
    return read_agent(q);
}

std::vector<AgentRecord> SqliteStorage::list_agents() {
    Stmt q(*this, "SELECT " REMSH_AGENT_COLUMNS " FROM agents ORDER BY name");
    std::vector<AgentRecord> agents;
    while (q.step()) {
        agents.push_back(read_agent(q));
    }
    return agents;
}

void SqliteStorage::update_agent_seen(const std::string& name, const std::string& facts_json,
                                      std::int64_t now_ms) {
    Stmt q(*this, "UPDATE agents SET facts_json = ?, last_seen_ms = ? WHERE name = ?");
    q.bind(1, facts_json).bind(2, now_ms).bind(3, name);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no agent " + quoted(name));
    }
}

// One column of one agent (`sql`: UPDATE agents SET <column> = ? WHERE name = ?).
template <typename T>
void SqliteStorage::update_agent(std::string_view sql, const T& value, const std::string& name) {
    Stmt q(*this, sql);
    q.bind(1, value).bind(2, name);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no agent " + quoted(name));
    }
}

void SqliteStorage::set_agent_last_seen(const std::string& name, std::int64_t ms) {
    update_agent("UPDATE agents SET last_seen_ms = ? WHERE name = ?", ms, name);
}

void SqliteStorage::set_agent_revoked(const std::string& name, bool revoked) {
    update_agent("UPDATE agents SET revoked = ? WHERE name = ?", std::int64_t{revoked ? 1 : 0}, name);
}

void SqliteStorage::set_agent_state(const std::string& name, const std::string& state) {
    if (!is_agent_state(state)) {
        throw_tag(storage_tag::invalid_argument, "agent state must be \"approved\" or \"pending\"");
    }
    update_agent("UPDATE agents SET state = ? WHERE name = ?", state, name);
}

void SqliteStorage::set_agent_draining(const std::string& name, bool draining) {
    update_agent("UPDATE agents SET draining = ? WHERE name = ?", std::int64_t{draining ? 1 : 0}, name);
}

void SqliteStorage::set_agent_leaving(const std::string& name, bool leaving) {
    update_agent("UPDATE agents SET leaving = ? WHERE name = ?", std::int64_t{leaving ? 1 : 0}, name);
}

void SqliteStorage::set_agent_labels(const std::string& name, const std::vector<std::string>& labels) {
    update_agent("UPDATE agents SET labels_json = ? WHERE name = ?", labels_to_json(labels), name);
}

void SqliteStorage::rename_agent(const std::string& name, const std::string& new_name) {
    if (name == new_name) {
        throw_tag(storage_tag::invalid_argument, "the agent is already called " + quoted(name));
    }
    in_transaction([&] {
        if (!find_agent(name)) {
            throw_tag(storage_tag::not_found, "no agent " + quoted(name));
        }
        const auto holder = resolve_agent_name(new_name);
        if (holder && *holder != name) {
            throw_tag(storage_tag::exists, "the name " + quoted(new_name) + " is taken");
        }
        if (holder) {  // back to one of its own old names
            Stmt d(*this, "DELETE FROM agent_aliases WHERE old_name = ?");
            d.bind(1, new_name);
            d.run();
        }
        Stmt q(*this, "UPDATE agents SET name = ? WHERE name = ?");
        q.bind(1, new_name).bind(2, name);
        q.run();  // the aliases and messages follow (ON UPDATE CASCADE)
        // Its stored sessions too: a restarted master takes them up, or closes them, by name.
        Stmt sessions(*this, "UPDATE agent_sessions SET agent = ? WHERE agent = ?");
        sessions.bind(1, new_name).bind(2, name);
        sessions.run();
        Stmt a(*this, "INSERT INTO agent_aliases (old_name, name) VALUES (?, ?)");
        a.bind(1, name).bind(2, new_name);
        a.run();
    });
}

std::optional<std::string> SqliteStorage::resolve_agent_name(const std::string& name) {
    if (find_agent(name)) {
        return name;
    }
    Stmt q(*this, "SELECT name FROM agent_aliases WHERE old_name = ?");
    q.bind(1, name);
    if (!q.step()) {
        return std::nullopt;
    }
    return q.text(0);
}

std::int64_t SqliteStorage::add_agent_message(const std::string& agent, const std::string& sender,
                                              const std::string& text, std::int64_t now_ms) {
    if (!find_agent(agent)) {
        throw_tag(storage_tag::not_found, "no agent " + quoted(agent));
    }
    Stmt q(*this,
           "INSERT INTO agent_messages (agent, sender, text, created_ms) VALUES (?, ?, ?, ?) "
           "RETURNING id");
    q.bind(1, agent).bind(2, sender).bind(3, text).bind(4, now_ms);
    return q.returned_id();
}

std::vector<AgentMessage> SqliteStorage::list_agent_messages(const std::string& agent,
                                                             bool undelivered_only) {
    Stmt q(*this,
           "SELECT id, agent, sender, text, created_ms, delivered_ms FROM agent_messages "
           "WHERE agent = ? AND (? = 0 OR delivered_ms IS NULL) ORDER BY id");
    q.bind(1, agent).bind(2, std::int64_t{undelivered_only ? 1 : 0});
    std::vector<AgentMessage> out;
    while (q.step()) {
        AgentMessage m;
        m.id = q.int64(0);
        m.agent = q.text(1);
        m.sender = q.text(2);
        m.text = q.text(3);
        m.created_ms = q.int64(4);
        m.delivered_ms = q.opt_int64(5);
        out.push_back(std::move(m));
    }
    return out;
}

void SqliteStorage::mark_agent_message_delivered(std::int64_t id, std::int64_t now_ms) {
    Stmt q(*this, "UPDATE agent_messages SET delivered_ms = COALESCE(delivered_ms, ?) WHERE id = ?");
    q.bind(1, now_ms).bind(2, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no message " + std::to_string(id));
    }
}

void SqliteStorage::add_shell_session(const ShellSessionRecord& session) {
    with_exists_message("shell session " + std::to_string(session.command_id) + " already exists", [&] {
        Stmt q(*this,
               "INSERT INTO shell_sessions (command_id, agent, opened_by, cols, rows, started_ms, "
               "ended_ms, exit_code, recording) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        q.bind(1, session.command_id)
            .bind(2, session.agent)
            .bind(3, session.opened_by)
            .bind(4, std::int64_t{session.cols})
            .bind(5, std::int64_t{session.rows})
            .bind(6, session.started_ms)
            .bind(7, session.ended_ms)
            .bind(8, session.exit_code)
            .bind(9, session.recording);
        q.run();
    });
}

void SqliteStorage::finish_shell_session(std::int64_t command_id, std::int64_t ended_ms,
                                         std::optional<std::int64_t> exit_code) {
    Stmt q(*this, "UPDATE shell_sessions SET ended_ms = ?, exit_code = ? WHERE command_id = ?");
    q.bind(1, ended_ms).bind(2, exit_code).bind(3, command_id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no shell session " + std::to_string(command_id));
    }
}

namespace {
#define REMSH_SHELL_COLUMNS "command_id, agent, opened_by, cols, rows, started_ms, ended_ms, exit_code, recording"
ShellSessionRecord read_shell_session(const auto& q) {
    ShellSessionRecord s;
    s.command_id = q.int64(0);
    s.agent = q.text(1);
    s.opened_by = q.text(2);
    s.cols = static_cast<int>(q.int64(3));
    s.rows = static_cast<int>(q.int64(4));
    s.started_ms = q.int64(5);
    s.ended_ms = q.opt_int64(6);
    s.exit_code = q.opt_int64(7);
    s.recording = q.text(8);
    return s;
}
}  // namespace

std::vector<ShellSessionRecord> SqliteStorage::list_shell_sessions(std::size_t limit) {
    Stmt q(*this, "SELECT " REMSH_SHELL_COLUMNS " FROM (SELECT * FROM shell_sessions ORDER BY command_id DESC "
                  "LIMIT ?) ORDER BY command_id");
    q.bind(1, static_cast<std::int64_t>(limit));
    std::vector<ShellSessionRecord> out;
    while (q.step()) {
        out.push_back(read_shell_session(q));
    }
    return out;
}

std::optional<ShellSessionRecord> SqliteStorage::get_shell_session(std::int64_t command_id) {
    Stmt q(*this, "SELECT " REMSH_SHELL_COLUMNS " FROM shell_sessions WHERE command_id = ?");
    q.bind(1, command_id);
    if (!q.step()) {
        return std::nullopt;
    }
    return read_shell_session(q);
}

namespace {
#define REMSH_JOB_COLUMNS \
    "id, name, recipe, state, priority, agent, submitted_by, submitted_ms, started_ms, finished_ms, reason, " \
    "attempts, avoid_agents, pipeline, needs, work_dir, debug_until_ms"
std::vector<std::int64_t> ids_from_json(const std::string& text) {
    std::vector<std::int64_t> out;
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(text, ec);
    if (!ec && v.is_array()) {
        for (const auto& e : v.get_array()) {
            if (e.is_int64()) out.push_back(e.get_int64());
        }
    }
    return out;
}
std::string ids_to_json(const std::vector<std::int64_t>& ids) {
    boost::json::array a;
    for (auto id : ids) a.push_back(id);
    return boost::json::serialize(a);
}
JobRecord read_job(const auto& q) {
    JobRecord j;
    j.id = q.int64(0);
    j.name = q.text(1);
    j.recipe = q.text(2);
    j.state = q.text(3);
    j.priority = q.int64(4);
    j.agent = q.opt_text(5);
    j.submitted_by = q.text(6);
    j.submitted_ms = q.int64(7);
    j.started_ms = q.opt_int64(8);
    j.finished_ms = q.opt_int64(9);
    j.reason = q.opt_text(10);
    j.attempts = q.int64(11);
    j.avoid_agents = labels_from_json(q.text(12));
    j.pipeline = q.opt_int64(13);
    j.needs = ids_from_json(q.text(14));
    j.work_dir = q.opt_text(15);
    j.debug_until_ms = q.opt_int64(16);
    return j;
}
}  // namespace

std::int64_t SqliteStorage::create_job(const JobRecord& job, const std::vector<std::string>& step_names) {
    std::int64_t id = 0;
    in_transaction([&] {
        Stmt q(*this,
               "INSERT INTO jobs (name, recipe, state, priority, submitted_by, submitted_ms, pipeline, needs) "
               "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?) RETURNING id");
        const std::string needs = ids_to_json(job.needs);
        q.bind(1, job.name).bind(2, job.recipe).bind(3, job.priority).bind(4, job.submitted_by).bind(5, job.submitted_ms);
        q.bind(6, job.pipeline).bind(7, needs);
        id = q.returned_id();
        for (std::size_t i = 0; i < step_names.size(); ++i) {
            Stmt st(*this, "INSERT INTO job_steps (job_id, idx, name, state) VALUES (?, ?, ?, 'pending')");
            st.bind(1, id).bind(2, static_cast<std::int64_t>(i)).bind(3, step_names[i]);
            st.run();
        }
    });
    return id;
}

std::optional<JobRecord> SqliteStorage::get_job(std::int64_t id) {
    Stmt q(*this, "SELECT " REMSH_JOB_COLUMNS " FROM jobs WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) {
        return std::nullopt;
    }
    return read_job(q);
}

std::vector<JobRecord> SqliteStorage::list_jobs(std::size_t limit) {
    Stmt q(*this, "SELECT " REMSH_JOB_COLUMNS " FROM (SELECT * FROM jobs ORDER BY id DESC LIMIT ?) ORDER BY id");
    q.bind(1, static_cast<std::int64_t>(limit));
    std::vector<JobRecord> out;
    while (q.step()) {
        out.push_back(read_job(q));
    }
    return out;
}

std::vector<JobRecord> SqliteStorage::queued_jobs() {
    Stmt q(*this, "SELECT " REMSH_JOB_COLUMNS " FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id");
    std::vector<JobRecord> out;
    while (q.step()) {
        out.push_back(read_job(q));
    }
    return out;
}

void SqliteStorage::start_job(std::int64_t id, const std::string& agent, const std::string& work_dir,
                              std::int64_t now_ms) {
    Stmt q(*this,
           "UPDATE jobs SET state = 'running', agent = ?, work_dir = ?, started_ms = ? WHERE id = ? AND state = 'queued'");
    q.bind(1, agent).bind(2, work_dir).bind(3, now_ms).bind(4, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no queued job " + std::to_string(id));
    }
}

void SqliteStorage::finish_job(std::int64_t id, const std::string& state, const std::optional<std::string>& reason,
                               std::int64_t now_ms) {
    Stmt q(*this, "UPDATE jobs SET state = ?, reason = ?, finished_ms = ? WHERE id = ?");
    q.bind(1, state).bind(2, reason).bind(3, now_ms).bind(4, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no job " + std::to_string(id));
    }
}

std::vector<JobStepRecord> SqliteStorage::job_steps(std::int64_t job_id) {
    Stmt q(*this,
           "SELECT job_id, idx, name, state, command_id, exit_code, started_ms, finished_ms FROM job_steps "
           "WHERE job_id = ? ORDER BY idx");
    q.bind(1, job_id);
    std::vector<JobStepRecord> out;
    while (q.step()) {
        JobStepRecord s;
        s.job_id = q.int64(0);
        s.index = q.int64(1);
        s.name = q.text(2);
        s.state = q.text(3);
        s.command_id = q.opt_int64(4);
        s.exit_code = q.opt_int64(5);
        s.started_ms = q.opt_int64(6);
        s.finished_ms = q.opt_int64(7);
        out.push_back(std::move(s));
    }
    return out;
}

void SqliteStorage::update_job_step(const JobStepRecord& step) {
    Stmt q(*this,
           "UPDATE job_steps SET state = ?, command_id = ?, exit_code = ?, started_ms = ?, finished_ms = ? "
           "WHERE job_id = ? AND idx = ?");
    q.bind(1, step.state)
        .bind(2, step.command_id)
        .bind(3, step.exit_code)
        .bind(4, step.started_ms)
        .bind(5, step.finished_ms)
        .bind(6, step.job_id)
        .bind(7, step.index);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no step " + std::to_string(step.index) + " of job " + std::to_string(step.job_id));
    }
}

void SqliteStorage::requeue_job(std::int64_t id, const std::string& reason) {
    in_transaction([&] {
        auto job = get_job(id);
        if (!job) {
            throw_tag(storage_tag::not_found, "no job " + std::to_string(id));
        }
        std::vector<std::string> avoid = job->avoid_agents;
        if (job->agent && std::find(avoid.begin(), avoid.end(), *job->agent) == avoid.end()) {
            avoid.push_back(*job->agent);
        }
        Stmt q(*this,
               "UPDATE jobs SET state = 'queued', agent = NULL, started_ms = NULL, finished_ms = NULL, "
               "reason = ?, attempts = attempts + 1, avoid_agents = ? WHERE id = ?");
        const std::string avoid_json = labels_to_json(avoid);  // bound by reference
        q.bind(1, reason).bind(2, avoid_json).bind(3, id);
        q.run();
        Stmt st(*this,
                "UPDATE job_steps SET state = 'pending', command_id = NULL, exit_code = NULL, started_ms = NULL, "
                "finished_ms = NULL WHERE job_id = ?");
        st.bind(1, id);
        st.run();
    });
}

std::size_t SqliteStorage::mark_running_jobs_lost(std::int64_t now_ms) {
    std::size_t n = 0;
    in_transaction([&] {
        Stmt steps(*this, "UPDATE job_steps SET state = 'lost', finished_ms = ? WHERE state = 'running'");
        steps.bind(1, now_ms);
        steps.run();
        Stmt q(*this,
               "UPDATE jobs SET state = 'lost', reason = 'the master restarted while it ran', finished_ms = ? "
               "WHERE state = 'running'");
        q.bind(1, now_ms);
        n = static_cast<std::size_t>(q.run());
        // Work dirs kept for debugging were the old master's promise; this one starts afresh.
        exec_cached("UPDATE jobs SET debug_until_ms = NULL WHERE debug_until_ms IS NOT NULL");
    });
    return n;
}

void SqliteStorage::set_job_pipeline(std::int64_t id, std::int64_t pipeline) {
    Stmt q(*this, "UPDATE jobs SET pipeline = ? WHERE id = ?");
    q.bind(1, pipeline).bind(2, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no job " + std::to_string(id));
    }
}

void SqliteStorage::set_job_debug_until(std::int64_t id, std::optional<std::int64_t> until_ms) {
    Stmt q(*this, "UPDATE jobs SET debug_until_ms = ? WHERE id = ?");
    q.bind(1, until_ms).bind(2, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no job " + std::to_string(id));
    }
}

void SqliteStorage::add_artifact(const ArtifactRecord& a) {
    Stmt q(*this,
           "INSERT OR REPLACE INTO artifacts (job_id, name, size, sha256, entries, bytes, created_ms) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, a.job_id).bind(2, a.name).bind(3, a.size).bind(4, a.sha256).bind(5, a.entries).bind(6, a.bytes);
    q.bind(7, a.created_ms);
    q.run();
}

std::vector<ArtifactRecord> SqliteStorage::job_artifacts(std::int64_t job_id) {
    Stmt q(*this,
           "SELECT job_id, name, size, sha256, entries, bytes, created_ms FROM artifacts WHERE job_id = ? ORDER BY name");
    q.bind(1, job_id);
    std::vector<ArtifactRecord> out;
    while (q.step()) {
        ArtifactRecord a;
        a.job_id = q.int64(0);
        a.name = q.text(1);
        a.size = q.int64(2);
        a.sha256 = q.text(3);
        a.entries = q.int64(4);
        a.bytes = q.int64(5);
        a.created_ms = q.int64(6);
        out.push_back(std::move(a));
    }
    return out;
}

void SqliteStorage::put_secret(const SecretRecord& secret) {
    Stmt q(*this, "INSERT OR REPLACE INTO secrets (name, sealed, updated_by, updated_ms) VALUES (?, ?, ?, ?)");
    q.bind(1, secret.name).bind_blob(2, secret.sealed).bind(3, secret.updated_by).bind(4, secret.updated_ms);
    q.run();
}

namespace {
SecretRecord read_secret(const auto& q) {
    SecretRecord s;
    s.name = q.text(0);
    s.sealed = q.blob(1);
    s.updated_by = q.text(2);
    s.updated_ms = q.int64(3);
    return s;
}
}  // namespace

std::optional<SecretRecord> SqliteStorage::get_secret(const std::string& name) {
    Stmt q(*this, "SELECT name, sealed, updated_by, updated_ms FROM secrets WHERE name = ?");
    q.bind(1, name);
    if (!q.step()) {
        return std::nullopt;
    }
    return read_secret(q);
}

std::vector<SecretRecord> SqliteStorage::list_secrets() {
    Stmt q(*this, "SELECT name, sealed, updated_by, updated_ms FROM secrets ORDER BY name");
    std::vector<SecretRecord> out;
    while (q.step()) {
        out.push_back(read_secret(q));
    }
    return out;
}

void SqliteStorage::put_repo(const RepoRecord& repo) {
    Stmt q(*this, "INSERT OR REPLACE INTO repos (name, url, created_ms, fetched_ms) VALUES (?, ?, ?, ?)");
    q.bind(1, repo.name).bind(2, repo.url).bind(3, repo.created_ms).bind(4, repo.fetched_ms);
    q.run();
}

std::vector<RepoRecord> SqliteStorage::list_repos() {
    Stmt q(*this, "SELECT name, url, created_ms, fetched_ms FROM repos ORDER BY name");
    std::vector<RepoRecord> out;
    while (q.step()) {
        out.push_back(RepoRecord{q.text(0), q.text(1), q.int64(2), q.opt_int64(3)});
    }
    return out;
}

std::optional<RepoRecord> SqliteStorage::get_repo(const std::string& name) {
    Stmt q(*this, "SELECT name, url, created_ms, fetched_ms FROM repos WHERE name = ?");
    q.bind(1, name);
    if (!q.step()) {
        return std::nullopt;
    }
    return RepoRecord{q.text(0), q.text(1), q.int64(2), q.opt_int64(3)};
}

bool SqliteStorage::delete_repo(const std::string& name) {
    Stmt q(*this, "DELETE FROM repos WHERE name = ?");
    q.bind(1, name);
    return q.run() > 0;
}

void SqliteStorage::add_job_source(const JobSourceRecord& s) {
    Stmt q(*this,
           "INSERT OR REPLACE INTO job_sources (job_id, step, repo, ref, commit_id, dir, full, files_sent, bytes_sent, "
           "deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, s.job_id).bind(2, s.step).bind(3, s.repo).bind(4, s.ref).bind(5, s.commit).bind(6, s.dir);
    q.bind(7, std::int64_t{s.full ? 1 : 0}).bind(8, s.files_sent).bind(9, s.bytes_sent).bind(10, s.deleted);
    q.run();
}

std::vector<JobSourceRecord> SqliteStorage::job_sources(std::int64_t job_id) {
    Stmt q(*this,
           "SELECT job_id, step, repo, ref, commit_id, dir, full, files_sent, bytes_sent, deleted FROM job_sources "
           "WHERE job_id = ? ORDER BY step");
    q.bind(1, job_id);
    std::vector<JobSourceRecord> out;
    while (q.step()) {
        JobSourceRecord s;
        s.job_id = q.int64(0);
        s.step = q.int64(1);
        s.repo = q.text(2);
        s.ref = q.text(3);
        s.commit = q.text(4);
        s.dir = q.text(5);
        s.full = q.int64(6) != 0;
        s.files_sent = q.int64(7);
        s.bytes_sent = q.int64(8);
        s.deleted = q.int64(9);
        out.push_back(std::move(s));
    }
    return out;
}

std::optional<AgentCheckoutRecord> SqliteStorage::get_agent_checkout(const std::string& agent, const std::string& dir) {
    Stmt q(*this, "SELECT agent, dir, repo, commit_id, updated_ms FROM agent_checkouts WHERE agent = ? AND dir = ?");
    q.bind(1, agent).bind(2, dir);
    if (!q.step()) {
        return std::nullopt;
    }
    return AgentCheckoutRecord{q.text(0), q.text(1), q.text(2), q.text(3), q.int64(4)};
}

void SqliteStorage::put_agent_checkout(const AgentCheckoutRecord& c) {
    Stmt q(*this,
           "INSERT OR REPLACE INTO agent_checkouts (agent, dir, repo, commit_id, updated_ms) VALUES (?, ?, ?, ?, ?)");
    q.bind(1, c.agent).bind(2, c.dir).bind(3, c.repo).bind(4, c.commit).bind(5, c.updated_ms);
    q.run();
}

void SqliteStorage::forget_agent_checkout(const std::string& agent, const std::string& dir) {
    Stmt q(*this, "DELETE FROM agent_checkouts WHERE agent = ? AND dir = ?");
    q.bind(1, agent).bind(2, dir);
    q.run();
}

bool SqliteStorage::delete_secret(const std::string& name) {
    Stmt q(*this, "DELETE FROM secrets WHERE name = ?");
    q.bind(1, name);
    return q.run() > 0;
}

// ---------------------------------------------------------------------------------------------
// Commands

std::int64_t SqliteStorage::create_command(const std::string& agent, const std::string& argv_json,
                                           const std::optional<std::string>& cwd,
                                           std::int64_t now_ms) {
    Stmt q(*this,
           "INSERT INTO commands (agent, argv_json, cwd, state, started_ms, stdout_bytes, "
           "stderr_bytes, result_json) VALUES (?, ?, ?, 'running', ?, 0, 0, '{}') RETURNING id");
    q.bind(1, agent).bind(2, argv_json).bind(3, cwd).bind(4, now_ms);
    return q.returned_id();
}

void SqliteStorage::finish_command(std::int64_t id, const CommandFinish& finish) {
    if (!is_final_command_state(finish.state)) {
        throw_tag(storage_tag::invalid_argument,
                  "a finished command's state must be finished, failed, lost or cancelled, not " +
                      quoted(finish.state));
    }
    Stmt q(*this,
           "UPDATE commands SET state = ?, exit_code = ?, signal = ?, error_tag = ?, "
           "error_message = ?, finished_ms = ?, result_json = ? WHERE id = ?");
    q.bind(1, finish.state)
        .bind(2, finish.exit_code)
        .bind(3, finish.signal)
        .bind(4, finish.error_tag)
        .bind(5, finish.error_message)
        .bind(6, finish.finished_ms)
        .bind(7, finish.result_json)
        .bind(8, id);
    if (q.run() == 0) {
        throw_tag(storage_tag::not_found, "no command " + std::to_string(id));
    }
}

std::optional<CommandRecord> SqliteStorage::get_command(std::int64_t id) {
    Stmt q(*this, "SELECT " REMSH_COMMAND_COLUMNS " FROM commands WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) {
        return std::nullopt;
    }
    return read_command(q);
}

std::vector<CommandRecord> SqliteStorage::list_commands(std::size_t limit) {
    std::vector<CommandRecord> commands;
    if (limit == 0) {
        return commands;
    }
    Stmt q(*this, "SELECT " REMSH_COMMAND_COLUMNS " FROM commands ORDER BY id DESC LIMIT ?");
    q.bind(1, clamp_limit(limit));
    while (q.step()) {
        commands.push_back(read_command(q));
    }
    std::reverse(commands.begin(), commands.end());
    return commands;
}

// Plain commands of a stored session: not a shell, not a job's step.
#define REMSH_REATTACHABLE(c)                                                            \
    "(" c ".session IN (SELECT session FROM agent_sessions) AND " c ".channel IS NOT NULL " \
    "AND " c ".id NOT IN (SELECT command_id FROM shell_sessions) "                        \
    "AND " c ".id NOT IN (SELECT command_id FROM job_steps WHERE command_id IS NOT NULL))"

// A shell session's recorder ends it; one whose command was lost without it (the master
// restarted, the agent left) ends with the command, or it would stay "open" for good.
constexpr const char* kEndShellSessionsOfEndedCommands =
    "UPDATE shell_sessions SET ended_ms = ? WHERE ended_ms IS NULL "
    // By key, for each open session (few), rather than over every command (many).
    "AND (SELECT state FROM commands WHERE id = shell_sessions.command_id) <> 'running'";

std::size_t SqliteStorage::mark_running_commands_lost(std::int64_t now_ms, bool spare_reattachable) {
    const std::string sql =
        std::string("UPDATE commands SET state = 'lost', finished_ms = ?, error_tag = 'master-restarted', "
                    "error_message = 'the master stopped while the command was running' WHERE state = 'running'") +
        (spare_reattachable ? " AND NOT " REMSH_REATTACHABLE("commands") : "");
    Transaction tx(*this);
    Stmt q(*this, sql);
    q.bind(1, now_ms);
    const auto n = static_cast<std::size_t>(q.run());
    Stmt shells(*this, kEndShellSessionsOfEndedCommands);
    shells.bind(1, now_ms);
    shells.run();
    tx.commit();
    return n;
}

void SqliteStorage::open_agent_session(const AgentSessionRecord& r) {
    Stmt q(*this, "INSERT INTO agent_sessions (session, agent, received, started_ms) VALUES (?, ?, ?, ?)");
    q.bind(1, r.session).bind(2, r.agent).bind(3, static_cast<std::int64_t>(r.received)).bind(4, r.started_ms);
    q.run();
}

void SqliteStorage::set_agent_session_received(const std::string& session, std::uint64_t received) {
    Stmt q(*this, "UPDATE agent_sessions SET received = ? WHERE session = ?");
    q.bind(1, static_cast<std::int64_t>(received)).bind(2, session);
    q.run();
}

std::optional<AgentSessionRecord> SqliteStorage::find_agent_session(const std::string& session) {
    Stmt q(*this, "SELECT session, agent, received, started_ms FROM agent_sessions WHERE session = ?");
    q.bind(1, session);
    if (!q.step()) return std::nullopt;
    return AgentSessionRecord{q.text(0), q.text(1), static_cast<std::uint64_t>(q.int64(2)), q.int64(3)};
}

std::vector<AgentSessionRecord> SqliteStorage::list_agent_sessions(const std::optional<std::string>& agent) {
    Stmt q(*this, std::string("SELECT session, agent, received, started_ms FROM agent_sessions") +
                      (agent ? " WHERE agent = ?" : "") + " ORDER BY started_ms");
    if (agent) q.bind(1, *agent);
    std::vector<AgentSessionRecord> out;
    while (q.step()) {
        out.push_back({q.text(0), q.text(1), static_cast<std::uint64_t>(q.int64(2)), q.int64(3)});
    }
    return out;
}

std::size_t SqliteStorage::close_agent_session(const std::string& session, std::int64_t now_ms,
                                               const std::string& why) {
    Transaction tx(*this);
    Stmt lost(*this,
              "UPDATE commands SET state = 'lost', finished_ms = ?, error_tag = 'agent-lost', "
              "error_message = ? WHERE state = 'running' AND session = ?");
    lost.bind(1, now_ms).bind(2, why).bind(3, session);
    const auto n = static_cast<std::size_t>(lost.run());
    Stmt shells(*this, kEndShellSessionsOfEndedCommands);
    shells.bind(1, now_ms);
    shells.run();
    Stmt drop(*this, "DELETE FROM agent_sessions WHERE session = ?");
    drop.bind(1, session);
    drop.run();
    tx.commit();
    return n;
}

void SqliteStorage::set_command_channel(std::int64_t id, const std::string& session, std::uint32_t channel) {
    Stmt q(*this, "UPDATE commands SET session = ?, channel = ? WHERE id = ?");
    q.bind(1, session).bind(2, std::int64_t{channel}).bind(3, id);
    if (q.run() != 1) throw_tag(storage_tag::not_found, "no command " + std::to_string(id));
}

std::vector<ReattachableCommand> SqliteStorage::reattachable_commands(const std::string& session) {
    Stmt q(*this,
           "SELECT c.id, c.channel, (SELECT COALESCE(MAX(idx) + 1, 0) FROM log_chunks WHERE command_id = c.id) "
           "FROM commands c WHERE c.state = 'running' AND c.session = ? AND " REMSH_REATTACHABLE("c")
           " ORDER BY c.id");
    q.bind(1, session);
    std::vector<ReattachableCommand> out;
    while (q.step()) {
        out.push_back({q.int64(0), static_cast<std::uint32_t>(q.int64(1)), q.int64(2)});
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Command logs

void SqliteStorage::append_log_chunks(const std::vector<LogChunk>& chunks) {
    if (chunks.empty()) {
        return;
    }
    struct Totals {
        std::int64_t command_id;
        std::int64_t out;
        std::int64_t err;
    };
    std::vector<Totals> totals;  // a batch almost always holds one or two commands
    for (const auto& chunk : chunks) {
        if (chunk.stream < kLogStreamStdout || chunk.stream > kLogStreamTty) {
            throw_tag(storage_tag::invalid_argument,
                      "unknown log stream " + std::to_string(chunk.stream));
        }
        if (chunk.codec > kLogCodecZstd) {
            throw_tag(storage_tag::invalid_argument,
                      "unknown log codec " + std::to_string(chunk.codec));
        }
        if (chunk.index < 0) {
            throw_tag(storage_tag::invalid_argument, "negative log chunk index");
        }
        auto it = std::find_if(totals.begin(), totals.end(),
                               [&](const Totals& t) { return t.command_id == chunk.command_id; });
        if (it == totals.end()) {
            it = totals.insert(totals.end(), Totals{chunk.command_id, 0, 0});
        }
        (chunk.stream == kLogStreamStderr ? it->err : it->out) += chunk.raw_length;
    }

    Transaction tx(*this);
    {
        // First: a batch for a command that does not exist writes no file.
        Stmt update(*this,
                    "UPDATE commands SET stdout_bytes = stdout_bytes + ?, "
                    "stderr_bytes = stderr_bytes + ? WHERE id = ?");
        for (const auto& t : totals) {
            update.bind(1, t.out).bind(2, t.err).bind(3, t.command_id);
            if (update.run() != 1) {
                throw_tag(storage_tag::not_found, "no command " + std::to_string(t.command_id));
            }
            update.reset();
        }
    }
    // Large chunks go to the end of their command's log file, in batch order. The rows go
    // in first, so that a duplicate index writes nothing; the bytes before the commit.
    struct FileEnd {
        std::int64_t command_id;
        std::uint64_t end;
    };
    std::vector<FileEnd> ends;
    std::vector<std::optional<std::uint64_t>> offsets(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        if (!log_files_ || chunks[i].data.size() < kLogFileChunkBytes) {
            continue;
        }
        const std::int64_t id = chunks[i].command_id;
        auto it = std::find_if(ends.begin(), ends.end(), [&](const FileEnd& e) { return e.command_id == id; });
        if (it == ends.end()) {
            it = ends.insert(ends.end(), FileEnd{id, log_files_->end_of(id)});
        }
        offsets[i] = it->end;
        it->end += chunks[i].data.size();
    }
    {
        Stmt insert(*this,
                    "INSERT INTO log_chunks (command_id, idx, stream, codec, raw_length, data, "
                    "file_offset, file_length) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        for (std::size_t i = 0; i < chunks.size(); ++i) {
            const auto& chunk = chunks[i];
            std::span<const std::uint8_t> inline_data = chunk.data;
            std::optional<std::int64_t> file_offset, file_length;
            if (offsets[i]) {
                inline_data = {};
                file_offset = static_cast<std::int64_t>(*offsets[i]);
                file_length = static_cast<std::int64_t>(chunk.data.size());
            }
            insert.bind(1, chunk.command_id)
                .bind(2, chunk.index)
                .bind(3, std::int64_t{chunk.stream})
                .bind(4, std::int64_t{chunk.codec})
                .bind(5, std::int64_t{chunk.raw_length})
                .bind_blob(6, inline_data)
                .bind(7, file_offset)
                .bind(8, file_length);
            insert.run();
            insert.reset();
        }
    }
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        if (offsets[i]) {
            log_files_->write_at(chunks[i].command_id, *offsets[i], chunks[i].data);
        }
    }
    tx.commit();
}

std::vector<LogChunk> SqliteStorage::read_log_chunks(std::int64_t command_id,
                                                     std::int64_t after_index,
                                                     std::size_t max_chunks) {
    std::vector<LogChunk> chunks;
    if (max_chunks == 0) {
        return chunks;
    }
    Stmt q(*this,
           "SELECT idx, stream, codec, raw_length, data, file_offset, file_length FROM log_chunks "
           "WHERE command_id = ? AND idx > ? ORDER BY idx LIMIT ?");
    q.bind(1, command_id).bind(2, after_index).bind(3, clamp_limit(max_chunks));
    while (q.step()) {
        const auto file_offset = q.opt_int64(5);
        if (file_offset && !log_files_) {
            throw_tag(storage_tag::error, "a log chunk in a file, but this database has no log files");
        }
        chunks.push_back(LogChunk{
            .command_id = command_id,
            .index = q.int64(0),
            .stream = static_cast<std::uint8_t>(q.int64(1)),
            .codec = static_cast<std::uint8_t>(q.int64(2)),
            .data = file_offset ? log_files_->read(command_id, static_cast<std::uint64_t>(*file_offset),
                                                   static_cast<std::uint64_t>(q.int64(6)))
                                : q.blob(4),
            .raw_length = static_cast<std::uint32_t>(q.int64(3)),
        });
    }
    return chunks;
}

// ---------------------------------------------------------------------------------------------

std::unique_ptr<Storage> open_sqlite_storage(const std::string& path) {
    return std::make_unique<SqliteStorage>(path);
}

}  // namespace remsh::master
