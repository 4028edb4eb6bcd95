// Storage: opening, settings, API tokens, enrollment tokens, agents, transactions.
#include "storage/sqlite_storage.hpp"
#include "storage/storage.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include <sys/stat.h>

using namespace remsh::master;
using remsh::master::test::tag_of;
using remsh::master::test::TempDir;

namespace {

// First column of the first row of `sql`, read through a separate connection.
std::string query_text(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string value = "(no row)";
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char* p = sqlite3_column_text(st, 0);
        value = p != nullptr ? reinterpret_cast<const char*>(p) : "(null)";
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return value;
}

unsigned file_mode(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return static_cast<unsigned>(st.st_mode & 07777);
}

EnrollmentTokenRecord make_token(const std::string& id, int uses) {
    return EnrollmentTokenRecord{
        .id = id,
        .secret_hash = "hash-of-" + id,
        .uses_left = uses,
        .expires_ms = std::nullopt,
        .labels = {"linux", "x86_64"},
        .approve = true,
        .created_ms = 1000,
    };
}

AgentRecord make_agent(const std::string& name) {
    return AgentRecord{
        .name = name,
        .stored_key_hex = "00ff" + name,
        .labels = {"linux"},
        .created_ms = 5000,
        .last_seen_ms = std::nullopt,
        .revoked = false,
        .facts_json = R"({"os":"linux"})",
        .state = "approved",
    };
}

}  // namespace

TEST_CASE("opening creates a 0600 WAL database with the current schema version", "[storage]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    {
        auto storage = open_sqlite_storage(path);
        storage->set_setting("k", "v");  // forces -wal and -shm into existence
        CHECK(file_mode(path) == 0600);
        for (const char* suffix : {"-wal", "-shm"}) {
            REQUIRE(std::filesystem::exists(path + suffix));
            CHECK(file_mode(path + suffix) == 0600);
        }
        CHECK(query_text(path, "PRAGMA journal_mode") == "wal");
        CHECK(query_text(path, "SELECT value FROM meta WHERE name = 'schema_version'") ==
              std::to_string(kSqliteSchemaVersion));
    }
    CHECK(file_mode(path) == 0600);
    CHECK(query_text(path, "PRAGMA journal_mode") == "wal");
}

TEST_CASE("the connection has the configured pragmas", "[storage]") {
    TempDir dir;
    SqliteStorage storage(dir.file("state.db"));
    CHECK(storage.pragma_value("journal_mode") == "wal");
    CHECK(storage.pragma_value("synchronous") == "1");  // NORMAL
    CHECK(storage.pragma_value("foreign_keys") == "1");
    CHECK(storage.pragma_value("busy_timeout") == "5000");
    CHECK(storage.pragma_value("page_size") == "16384");
    CHECK(tag_of([&] { storage.pragma_value("journal_mode; DROP TABLE meta"); }) ==
          "invalid-argument");
}

TEST_CASE("an existing file keeps its mode and its data", "[storage]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    { auto storage = open_sqlite_storage(path); }
    REQUIRE(::chmod(path.c_str(), 0640) == 0);
    auto storage = open_sqlite_storage(path);
    CHECK(file_mode(path) == 0640);
}

TEST_CASE("opening fails cleanly with a storage-error", "[storage]") {
    TempDir dir;
    CHECK(tag_of([&] { open_sqlite_storage(dir.file("missing-dir/state.db")); }) ==
          "storage-error");
    // Not a database.
    {
        std::FILE* f = std::fopen(dir.file("junk.db").c_str(), "wb");
        REQUIRE(f != nullptr);
        const std::string junk(4096, 'x');
        std::fwrite(junk.data(), 1, junk.size(), f);
        std::fclose(f);
    }
    CHECK(tag_of([&] { open_sqlite_storage(dir.file("junk.db")); }) == "storage-error");
}

TEST_CASE("a newer schema version is refused", "[storage]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    { auto storage = open_sqlite_storage(path); }
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE name = 'schema_version'",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    try {
        open_sqlite_storage(path);
        FAIL("opened a version 99 database");
    } catch (const StorageError& e) {
        CHECK(e.tag == "storage-error");
        CHECK(std::string(e.what()).find("schema version 99") != std::string::npos);
    }
}

TEST_CASE("close is idempotent and later calls throw", "[storage]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    storage->set_setting("a", "b");
    storage->close();
    storage->close();
    CHECK(tag_of([&] { storage->get_setting("a"); }) == "storage-error");
    CHECK(tag_of([&] { storage->begin_transaction(); }) == "storage-error");
    storage.reset();  // destructor after close
    CHECK(std::filesystem::exists(dir.file("state.db")));
    CHECK_FALSE(std::filesystem::exists(dir.file("state.db-wal")));  // checkpointed and removed
}

TEST_CASE("an in-memory database works for tests", "[storage]") {
    SqliteStorage storage(":memory:");
    CHECK(storage.pragma_value("journal_mode") == "memory");
    storage.set_setting("x", "y");
    CHECK(storage.get_setting("x") == "y");
}

TEST_CASE("settings are set and overwritten and survive a reopen", "[storage]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    {
        auto storage = open_sqlite_storage(path);
        CHECK_FALSE(storage->get_setting("master.name").has_value());
        storage->set_setting("master.name", "alpha");
        CHECK(storage->get_setting("master.name") == "alpha");
        storage->set_setting("master.name", "beta");
        storage->set_setting("empty", "");
        CHECK(storage->get_setting("master.name") == "beta");
    }
    auto storage = open_sqlite_storage(path);
    CHECK(storage->get_setting("master.name") == "beta");
    CHECK(storage->get_setting("empty") == "");
    CHECK_FALSE(storage->get_setting("other").has_value());
}

TEST_CASE("API tokens are found by the hash of their secret", "[storage]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    storage->add_api_token("admin-1", "aa11", "admin", 1234);
    storage->add_api_token("viewer-1", "bb22", "viewer", 1300);

    const auto admin = storage->find_api_token_by_hash("aa11");
    REQUIRE(admin.has_value());
    CHECK(admin->id == "admin-1");
    CHECK(admin->role == "admin");
    CHECK(admin->created_ms == 1234);
    CHECK(storage->find_api_token_by_hash("bb22")->role == "viewer");
    CHECK_FALSE(storage->find_api_token_by_hash("cc33").has_value());

    CHECK(tag_of([&] { storage->add_api_token("admin-1", "dd44", "admin", 1); }) == "exists");
    CHECK(tag_of([&] { storage->add_api_token("admin-2", "aa11", "admin", 1); }) == "exists");

    const auto listed = storage->list_api_tokens();
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].id == "admin-1");
    CHECK(listed[1].role == "viewer");
    storage->delete_api_token("viewer-1");
    CHECK_FALSE(storage->find_api_token_by_hash("bb22").has_value());
    CHECK(storage->list_api_tokens().size() == 1);
    CHECK(tag_of([&] { storage->delete_api_token("viewer-1"); }) == "not-found");
}

TEST_CASE("enrollment tokens are created listed and deleted", "[storage][enroll]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    {
        auto storage = open_sqlite_storage(path);
        auto first = make_token("t1", 3);
        first.labels = {"quote\"d", "back\\slash", "unicode-\xc3\xa9\xe2\x82\xac", "", "a,b"};
        first.expires_ms = 99999;
        first.created_ms = 10;
        storage->create_enrollment_token(first);
        auto second = make_token("t0", 1);
        second.labels = {};
        second.approve = false;
        second.created_ms = 20;
        storage->create_enrollment_token(second);

        CHECK(tag_of([&] { storage->create_enrollment_token(make_token("t1", 1)); }) == "exists");
        auto same_hash = make_token("t2", 1);
        same_hash.secret_hash = first.secret_hash;
        CHECK(tag_of([&] { storage->create_enrollment_token(same_hash); }) == "exists");
        CHECK(tag_of([&] { storage->create_enrollment_token(make_token("t3", 0)); }) ==
              "invalid-argument");
        auto bad_utf8 = make_token("t4", 1);
        bad_utf8.labels = {"\xff\xfe"};
        CHECK(tag_of([&] { storage->create_enrollment_token(bad_utf8); }) == "invalid-argument");
    }
    auto storage = open_sqlite_storage(path);
    const auto tokens = storage->list_enrollment_tokens();
    REQUIRE(tokens.size() == 2);
    CHECK(tokens[0].id == "t1");  // ordered by created_ms
    CHECK(tokens[0].secret_hash == "hash-of-t1");
    CHECK(tokens[0].uses_left == 3);
    CHECK(tokens[0].expires_ms == 99999);
    CHECK(tokens[0].labels ==
          std::vector<std::string>{"quote\"d", "back\\slash", "unicode-\xc3\xa9\xe2\x82\xac", "", "a,b"});
    CHECK(tokens[0].approve);
    CHECK(tokens[0].created_ms == 10);
    CHECK(tokens[1].id == "t0");
    CHECK(tokens[1].labels.empty());
    CHECK_FALSE(tokens[1].approve);
    CHECK_FALSE(tokens[1].expires_ms.has_value());

    storage->delete_enrollment_token("t1");
    CHECK(tag_of([&] { storage->delete_enrollment_token("t1"); }) == "not-found");
    REQUIRE(storage->list_enrollment_tokens().size() == 1);
    CHECK(tag_of([&] { storage->consume_enrollment_token("hash-of-t1", 0); }) == "token-invalid");
}

TEST_CASE("consuming an enrollment token counts its uses down", "[storage][enroll]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    storage->create_enrollment_token(make_token("two", 2));

    const auto first = storage->consume_enrollment_token("hash-of-two", 2000);
    CHECK(first.id == "two");
    CHECK(first.uses_left == 1);
    CHECK(first.labels == std::vector<std::string>{"linux", "x86_64"});
    CHECK(first.approve);
    const auto second = storage->consume_enrollment_token("hash-of-two", 2001);
    CHECK(second.uses_left == 0);
    CHECK(tag_of([&] { storage->consume_enrollment_token("hash-of-two", 2002); }) ==
          "token-used-up");
    CHECK(storage->list_enrollment_tokens().at(0).uses_left == 0);  // kept until deleted
    CHECK(tag_of([&] { storage->consume_enrollment_token("no-such-hash", 2002); }) ==
          "token-invalid");
}

TEST_CASE("an expired enrollment token is refused without using it", "[storage][enroll]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    auto token = make_token("exp", 5);
    token.expires_ms = 10000;
    storage->create_enrollment_token(token);

    CHECK(storage->consume_enrollment_token("hash-of-exp", 9999).uses_left == 4);
    CHECK(tag_of([&] { storage->consume_enrollment_token("hash-of-exp", 10000); }) ==
          "token-expired");
    CHECK(tag_of([&] { storage->consume_enrollment_token("hash-of-exp", 20000); }) ==
          "token-expired");
    CHECK(storage->list_enrollment_tokens().at(0).uses_left == 4);
    // Expiry is checked before uses.
    auto used = make_token("used", 1);
    used.expires_ms = 10000;
    storage->create_enrollment_token(used);
    storage->consume_enrollment_token("hash-of-used", 1);
    CHECK(tag_of([&] { storage->consume_enrollment_token("hash-of-used", 10001); }) ==
          "token-expired");
    CHECK(tag_of([&] { storage->consume_enrollment_token("hash-of-used", 2); }) ==
          "token-used-up");
}

TEST_CASE("a consume inside a rolled back transaction is undone", "[storage][enroll]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    storage->create_enrollment_token(make_token("one", 1));
    {
        Transaction tx(*storage);
        CHECK(storage->consume_enrollment_token("hash-of-one", 1).uses_left == 0);
        // e.g. adding the agent failed: no commit
    }
    CHECK(storage->consume_enrollment_token("hash-of-one", 2).uses_left == 0);
    CHECK(tag_of([&] { storage->consume_enrollment_token("hash-of-one", 3); }) == "token-used-up");
}

TEST_CASE("agents are added found listed by name and updated", "[storage][agents]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    {
        auto storage = open_sqlite_storage(path);
        for (const char* name : {"mike", "alpha", "zulu", "Bravo"}) {
            storage->add_agent(make_agent(name));
        }
        CHECK(tag_of([&] { storage->add_agent(make_agent("mike")); }) == "exists");
        auto bad = make_agent("x");
        bad.state = "weird";
        CHECK(tag_of([&] { storage->add_agent(bad); }) == "invalid-argument");
        CHECK_FALSE(storage->find_agent("x").has_value());

        auto pending = make_agent("pend");
        pending.state = "pending";
        pending.labels = {"windows", "gpu"};
        pending.last_seen_ms = 42;
        storage->add_agent(pending);
    }
    auto storage = open_sqlite_storage(path);
    std::vector<std::string> names;
    for (const auto& agent : storage->list_agents()) {
        names.push_back(agent.name);
    }
    CHECK(names == std::vector<std::string>{"Bravo", "alpha", "mike", "pend", "zulu"});

    auto pend = storage->find_agent("pend");
    REQUIRE(pend.has_value());
    CHECK(pend->state == "pending");
    CHECK(pend->labels == std::vector<std::string>{"windows", "gpu"});
    CHECK(pend->last_seen_ms == 42);
    CHECK(pend->stored_key_hex == "00ffpend");
    CHECK(pend->created_ms == 5000);
    CHECK(pend->facts_json == R"({"os":"linux"})");
    CHECK_FALSE(pend->revoked);
    CHECK_FALSE(storage->find_agent("nobody").has_value());

    storage->update_agent_seen("mike", R"({"os":"linux","arch":"aarch64"})", 777);
    storage->set_agent_revoked("mike", true);
    storage->set_agent_state("pend", "approved");
    const auto mike = storage->find_agent("mike");
    CHECK(mike->last_seen_ms == 777);
    CHECK(mike->facts_json == R"({"os":"linux","arch":"aarch64"})");
    CHECK(mike->revoked);
    CHECK(storage->find_agent("pend")->state == "approved");
    storage->set_agent_revoked("mike", false);
    CHECK_FALSE(storage->find_agent("mike")->revoked);

    CHECK(tag_of([&] { storage->update_agent_seen("nobody", "{}", 1); }) == "not-found");
    CHECK(tag_of([&] { storage->set_agent_revoked("nobody", true); }) == "not-found");
    CHECK(tag_of([&] { storage->set_agent_state("nobody", "approved"); }) == "not-found");
    CHECK(tag_of([&] { storage->set_agent_state("mike", "gone"); }) == "invalid-argument");
}

TEST_CASE("a version 1 database is upgraded and keeps its agents", "[storage][agents]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db,
                             "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
                             "INSERT INTO meta VALUES ('schema_version', '1');"
                             "CREATE TABLE agents (name TEXT PRIMARY KEY, stored_key_hex TEXT NOT NULL,"
                             " labels_json TEXT NOT NULL, created_ms INTEGER NOT NULL, last_seen_ms INTEGER,"
                             " revoked INTEGER NOT NULL, facts_json TEXT NOT NULL, state TEXT NOT NULL);"
                             "INSERT INTO agents VALUES ('old', 'ab', '[\"linux\"]', 1, NULL, 0, '{}', 'approved');"
                             // Later versions add columns to the commands table of version 1.
                             "CREATE TABLE commands (id INTEGER PRIMARY KEY, agent TEXT NOT NULL,"
                             " argv_json TEXT NOT NULL, cwd TEXT, state TEXT NOT NULL, exit_code INTEGER,"
                             " signal TEXT, error_tag TEXT, error_message TEXT, started_ms INTEGER NOT NULL,"
                             " finished_ms INTEGER, stdout_bytes INTEGER NOT NULL, stderr_bytes INTEGER NOT NULL,"
                             " result_json TEXT NOT NULL);"
                             "INSERT INTO commands VALUES (1, 'old', '[]', NULL, 'finished', 0, NULL, NULL,"
                             " NULL, 1, 2, 3, 0, '{}');"
                             // Version 5 moves large chunks to files; those stored before stay inline.
                             "CREATE TABLE log_chunks (command_id INTEGER NOT NULL REFERENCES commands (id)"
                             " ON DELETE CASCADE, idx INTEGER NOT NULL CHECK (idx >= 0), stream INTEGER NOT NULL,"
                             " codec INTEGER NOT NULL, raw_length INTEGER NOT NULL, data BLOB NOT NULL,"
                             " PRIMARY KEY (command_id, idx));"
                             "INSERT INTO log_chunks VALUES (1, 0, 1, 0, 3, X'616263');",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    auto storage = open_sqlite_storage(path);
    auto a = storage->find_agent("old");
    REQUIRE(a);
    CHECK(a->labels == std::vector<std::string>{"linux"});
    CHECK_FALSE(a->draining);
    CHECK_FALSE(a->leaving);
    storage->set_agent_draining("old", true);
    CHECK(storage->find_agent("old")->draining);
    const auto chunks = storage->read_log_chunks(1, -1, 10);
    REQUIRE(chunks.size() == 1);
    CHECK(chunks[0].data == std::vector<std::uint8_t>{'a', 'b', 'c'});
    CHECK(query_text(path, "SELECT value FROM meta WHERE name = 'schema_version'") == "5");
}

TEST_CASE("drain leave and labels are stored per agent", "[storage][agents]") {
    auto storage = open_sqlite_storage(":memory:");
    storage->add_agent(make_agent("a1"));
    storage->add_agent(make_agent("a2"));
    storage->set_agent_draining("a1", true);
    storage->set_agent_leaving("a2", true);
    storage->set_agent_labels("a2", {"gpu", "linux"});
    CHECK(storage->find_agent("a1")->draining);
    CHECK_FALSE(storage->find_agent("a1")->leaving);
    CHECK(storage->find_agent("a2")->leaving);
    CHECK(storage->find_agent("a2")->labels == std::vector<std::string>{"gpu", "linux"});
    storage->set_agent_draining("a1", false);
    CHECK_FALSE(storage->find_agent("a1")->draining);
    CHECK(tag_of([&] { storage->set_agent_draining("nobody", true); }) == "not-found");
    CHECK(tag_of([&] { storage->set_agent_labels("nobody", {}); }) == "not-found");
}

TEST_CASE("a renamed agent keeps its old name as an alias and its messages", "[storage][agents]") {
    auto storage = open_sqlite_storage(":memory:");
    storage->add_agent(make_agent("a1"));
    storage->add_agent(make_agent("b1"));
    const auto id = storage->add_agent_message("a1", "admin", "hello", 10);
    storage->open_agent_session({"s-1", "a1", 0, 600});
    storage->rename_agent("a1", "a2");
    // A restarted master finds (and takes up, or closes) its session under the new name.
    CHECK(storage->find_agent_session("s-1")->agent == "a2");
    CHECK(storage->list_agent_sessions(std::string("a2")).size() == 1);
    CHECK(storage->list_agent_sessions(std::string("a1")).empty());
    CHECK_FALSE(storage->find_agent("a1"));
    REQUIRE(storage->find_agent("a2"));
    CHECK(storage->resolve_agent_name("a1") == std::optional<std::string>("a2"));
    CHECK(storage->resolve_agent_name("a2") == std::optional<std::string>("a2"));
    CHECK_FALSE(storage->resolve_agent_name("zz"));
    auto messages = storage->list_agent_messages("a2", true);
    REQUIRE(messages.size() == 1);
    CHECK(messages[0].id == id);
    // Renamed again: the first alias follows; names and aliases are never reused.
    storage->rename_agent("a2", "a3");
    CHECK(storage->resolve_agent_name("a1") == std::optional<std::string>("a3"));
    CHECK(tag_of([&] { storage->rename_agent("b1", "a1"); }) == "exists");
    CHECK(tag_of([&] { storage->rename_agent("b1", "a3"); }) == "exists");
    CHECK(tag_of([&] { storage->rename_agent("nobody", "x"); }) == "not-found");
    CHECK(tag_of([&] { storage->rename_agent("b1", "b1"); }) == "invalid-argument");
    // Back to an old name of its own.
    storage->rename_agent("a3", "a1");
    CHECK(storage->resolve_agent_name("a2") == std::optional<std::string>("a1"));
    CHECK(storage->find_agent("a1"));
}

TEST_CASE("messages to an owner are kept until delivered", "[storage][agents]") {
    auto storage = open_sqlite_storage(":memory:");
    storage->add_agent(make_agent("a1"));
    const auto m1 = storage->add_agent_message("a1", "admin", "first", 10);
    const auto m2 = storage->add_agent_message("a1", "ops", "second", 20);
    CHECK(m2 > m1);
    CHECK(storage->list_agent_messages("a1", true).size() == 2);
    storage->mark_agent_message_delivered(m1, 30);
    storage->mark_agent_message_delivered(m1, 40);  // the first delivery time stays
    auto pending = storage->list_agent_messages("a1", true);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].text == "second");
    CHECK(pending[0].sender == "ops");
    auto all = storage->list_agent_messages("a1", false);
    REQUIRE(all.size() == 2);
    CHECK(all[0].delivered_ms == std::optional<std::int64_t>(30));
    CHECK(tag_of([&] { storage->add_agent_message("nobody", "admin", "x", 1); }) == "not-found");
    CHECK(tag_of([&] { storage->mark_agent_message_delivered(999, 1); }) == "not-found");
}

TEST_CASE("shell sessions are recorded and finished", "[storage][shell]") {
    auto storage = open_sqlite_storage(":memory:");
    const auto id = storage->create_command("a1", "[]", std::nullopt, 100);
    ShellSessionRecord s;
    s.command_id = id;
    s.agent = "a1";
    s.opened_by = "admin";
    s.cols = 120;
    s.rows = 40;
    s.started_ms = 100;
    s.recording = "recordings/1.cast";
    storage->add_shell_session(s);
    CHECK(tag_of([&] { storage->add_shell_session(s); }) == "exists");
    storage->finish_shell_session(id, 900, 3);
    auto got = storage->get_shell_session(id);
    REQUIRE(got);
    CHECK(got->cols == 120);
    CHECK(got->ended_ms == std::optional<std::int64_t>(900));
    CHECK(got->exit_code == std::optional<std::int64_t>(3));
    CHECK(storage->list_shell_sessions(10).size() == 1);
    CHECK_FALSE(storage->get_shell_session(id + 1));
    CHECK(tag_of([&] { storage->finish_shell_session(id + 1, 1, std::nullopt); }) == "not-found");
}

TEST_CASE("a shell session whose command is lost without its recorder ends with it", "[storage][shell]") {
    auto storage = open_sqlite_storage(":memory:");
    auto open_shell = [&](std::int64_t started) {
        const auto id = storage->create_command("a1", "[]", std::nullopt, started);
        ShellSessionRecord s;
        s.command_id = id;
        s.agent = "a1";
        s.opened_by = "admin";
        s.started_ms = started;
        s.recording = "recordings/" + std::to_string(id) + ".cast";
        storage->add_shell_session(s);
        return id;
    };
    // A master restart: its shells are not taken up again.
    const auto before_restart = open_shell(100);
    CHECK(storage->mark_running_commands_lost(500, true) == 1);
    CHECK(storage->get_shell_session(before_restart)->ended_ms == std::optional<std::int64_t>(500));
    // The agent's session ends (it left, or did not come back).
    const auto agents_gone = open_shell(600);
    storage->open_agent_session({"s-1", "a1", 0, 600});
    storage->set_command_channel(agents_gone, "s-1", 1);
    CHECK(storage->close_agent_session("s-1", 700, "the agent left") == 1);
    CHECK(storage->get_shell_session(agents_gone)->ended_ms == std::optional<std::int64_t>(700));
    // An ended session keeps its own end.
    CHECK(storage->get_shell_session(before_restart)->ended_ms == std::optional<std::int64_t>(500));
}

TEST_CASE("jobs are queued by priority started finished and lost at a restart", "[storage][jobs]") {
    auto storage = open_sqlite_storage(":memory:");
    JobRecord j;
    j.name = "low";
    j.recipe = "name: low";
    j.submitted_by = "admin";
    j.submitted_ms = 10;
    const auto low = storage->create_job(j, {"a", "b"});
    j.name = "high";
    j.priority = 5;
    const auto high = storage->create_job(j, {"c"});
    auto queued = storage->queued_jobs();
    REQUIRE(queued.size() == 2);
    CHECK(queued[0].id == high);
    CHECK(queued[1].id == low);
    storage->start_job(low, "a1", "jobs/low", 20);
    CHECK(tag_of([&] { storage->start_job(low, "a1", "jobs/low", 20); }) == "not-found");
    auto steps = storage->job_steps(low);
    REQUIRE(steps.size() == 2);
    CHECK(steps[1].name == "b");
    CHECK(steps[0].state == "pending");
    steps[0].state = "running";
    steps[0].command_id = storage->create_command("a1", "\"x\"", std::nullopt, 21);
    storage->update_job_step(steps[0]);
    CHECK(storage->mark_running_jobs_lost(30) == 1);
    auto lost = storage->get_job(low);
    REQUIRE(lost);
    CHECK(lost->state == "lost");
    CHECK(lost->finished_ms == std::optional<std::int64_t>(30));
    CHECK(storage->job_steps(low)[0].state == "lost");
    // A lost job goes back to the queue, away from the agent it was lost on.
    storage->requeue_job(low, "attempt 1 lost");
    auto again = storage->get_job(low);
    REQUIRE(again);
    CHECK(again->state == "queued");
    CHECK(again->attempts == 1);
    CHECK(again->avoid_agents == std::vector<std::string>{"a1"});
    CHECK_FALSE(again->agent);
    CHECK(storage->job_steps(low)[0].state == "pending");
    CHECK_FALSE(storage->job_steps(low)[0].command_id);
    storage->finish_job(low, "cancelled", std::nullopt, 35);
    storage->finish_job(high, "cancelled", std::string("cancelled"), 40);
    CHECK(storage->queued_jobs().empty());
    CHECK(storage->list_jobs(1).size() == 1);
    CHECK(storage->list_jobs(1)[0].id == high);
}

TEST_CASE("transactions commit roll back and nest", "[storage][tx]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));

    {
        Transaction tx(*storage);
        storage->set_setting("a", "1");
        tx.commit();
        CHECK(tag_of([&] { tx.commit(); }) == "storage-error");
    }
    CHECK(storage->get_setting("a") == "1");

    {
        Transaction tx(*storage);
        storage->set_setting("a", "2");
    }  // destroyed without commit
    CHECK(storage->get_setting("a") == "1");

    {
        Transaction tx(*storage);
        storage->set_setting("b", "x");
        tx.rollback();
    }
    CHECK_FALSE(storage->get_setting("b").has_value());

    // in_transaction: an exception rolls back and propagates.
    CHECK_THROWS_WITH(storage->in_transaction([&] {
        storage->set_setting("a", "3");
        throw std::runtime_error("boom");
    }),
                      "boom");
    CHECK(storage->get_setting("a") == "1");
    storage->in_transaction([&] { storage->set_setting("a", "4"); });
    CHECK(storage->get_setting("a") == "4");

    // Nesting: the inner level is rolled back, the outer one commits.
    storage->in_transaction([&] {
        storage->set_setting("outer", "yes");
        CHECK(tag_of([&] {
                  storage->in_transaction([&] {
                      storage->set_setting("inner", "yes");
                      storage->add_agent(make_agent("dup"));
                      storage->add_agent(make_agent("dup"));  // "exists"
                  });
              }) == "exists");
        storage->in_transaction([&] { storage->set_setting("inner2", "yes"); });
    });
    CHECK(storage->get_setting("outer") == "yes");
    CHECK_FALSE(storage->get_setting("inner").has_value());
    CHECK_FALSE(storage->find_agent("dup").has_value());
    CHECK(storage->get_setting("inner2") == "yes");

    CHECK(tag_of([&] { storage->commit_transaction(); }) == "storage-error");
    CHECK(tag_of([&] { storage->rollback_transaction(); }) == "storage-error");
}

TEST_CASE("another connection sees only committed data", "[storage][tx]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    auto storage = open_sqlite_storage(path);
    storage->set_setting("v", "old");
    Transaction tx(*storage);
    storage->set_setting("v", "new");
    CHECK(query_text(path, "SELECT value FROM settings WHERE name = 'v'") == "old");  // WAL reader
    tx.commit();
    CHECK(query_text(path, "SELECT value FROM settings WHERE name = 'v'") == "new");
}

TEST_CASE("pipeline jobs keep their needs work dir and debug hold", "[storage][jobs]") {
    auto storage = open_sqlite_storage(":memory:");
    JobRecord j;
    j.name = "build";
    j.recipe = "name: build";
    j.submitted_by = "admin";
    j.submitted_ms = 10;
    const auto build = storage->create_job(j, {"a"});
    storage->set_job_pipeline(build, build);
    CHECK(storage->get_job(build)->pipeline == std::optional<std::int64_t>(build));
    j.name = "test";
    j.pipeline = build;
    j.needs = {build};
    const auto test = storage->create_job(j, {"b"});
    auto t = storage->get_job(test);
    REQUIRE(t);
    CHECK(t->pipeline == std::optional<std::int64_t>(build));
    CHECK(t->needs == std::vector<std::int64_t>{build});
    CHECK(storage->get_job(build)->needs.empty());
    storage->start_job(test, "a1", "jobs/test", 20);
    CHECK(storage->get_job(test)->work_dir == std::optional<std::string>("jobs/test"));
    storage->set_job_debug_until(test, 500);
    CHECK(storage->get_job(test)->debug_until_ms == std::optional<std::int64_t>(500));
    storage->mark_running_jobs_lost(30);
    CHECK_FALSE(storage->get_job(test)->debug_until_ms);
    CHECK(tag_of([&] { storage->set_job_debug_until(test + 100, 1); }) == "not-found");
}

TEST_CASE("artifacts are listed per job and replaced by name", "[storage][jobs]") {
    auto storage = open_sqlite_storage(":memory:");
    JobRecord j;
    j.name = "build";
    j.recipe = "name: build";
    j.submitted_by = "admin";
    const auto id = storage->create_job(j, {"a"});
    ArtifactRecord a;
    a.job_id = id;
    a.name = "bin";
    a.size = 100;
    a.sha256 = std::string(64, 'a');
    a.entries = 2;
    a.bytes = 40;
    storage->add_artifact(a);
    a.name = "report";
    storage->add_artifact(a);
    a.name = "bin";
    a.size = 200;
    storage->add_artifact(a);
    auto list = storage->job_artifacts(id);
    REQUIRE(list.size() == 2);
    CHECK(list[0].name == "bin");
    CHECK(list[0].size == 200);
    CHECK(list[1].name == "report");
    CHECK(storage->job_artifacts(id + 1).empty());
}

TEST_CASE("secrets are stored sealed and deleted by name", "[storage][secrets]") {
    auto storage = open_sqlite_storage(":memory:");
    SecretRecord s;
    s.name = "DEPLOY_KEY";
    s.sealed = {1, 2, 3};
    s.updated_by = "admin";
    s.updated_ms = 5;
    storage->put_secret(s);
    s.sealed = {4, 5};
    storage->put_secret(s);
    auto got = storage->get_secret("DEPLOY_KEY");
    REQUIRE(got);
    CHECK(got->sealed == std::vector<std::uint8_t>{4, 5});
    CHECK(storage->list_secrets().size() == 1);
    CHECK(storage->delete_secret("DEPLOY_KEY"));
    CHECK_FALSE(storage->delete_secret("DEPLOY_KEY"));
    CHECK_FALSE(storage->get_secret("DEPLOY_KEY"));
}
