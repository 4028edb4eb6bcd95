// Storage: commands and their log chunks.
#include "storage/sqlite_storage.hpp"
#include "storage/storage.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

using namespace remsh::master;
using remsh::master::test::tag_of;
using remsh::master::test::TempDir;

namespace {

std::vector<std::uint8_t> all_byte_values() {
    std::vector<std::uint8_t> bytes(256);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        bytes[i] = static_cast<std::uint8_t>(i);
    }
    return bytes;
}

LogChunk chunk(std::int64_t command, std::int64_t index, std::uint8_t stream,
               std::vector<std::uint8_t> data, std::uint32_t raw_length,
               std::uint8_t codec = kLogCodecNone) {
    return LogChunk{.command_id = command,
                    .index = index,
                    .stream = stream,
                    .codec = codec,
                    .data = std::move(data),
                    .raw_length = raw_length};
}

}  // namespace

TEST_CASE("commands are created with increasing ids and finished", "[storage][commands]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    std::int64_t first = 0;
    std::int64_t second = 0;
    {
        auto storage = open_sqlite_storage(path);
        first = storage->create_command("alpha", R"(["make","-j8"])", std::string("/src"), 1000);
        second = storage->create_command("beta", R"("ls -l | wc")", std::nullopt, 1001);
        CHECK(second > first);

        const auto running = storage->get_command(first);
        REQUIRE(running.has_value());
        CHECK(running->id == first);
        CHECK(running->agent == "alpha");
        CHECK(running->argv_json == R"(["make","-j8"])");
        CHECK(running->cwd == "/src");
        CHECK(running->state == "running");
        CHECK_FALSE(running->exit_code.has_value());
        CHECK_FALSE(running->signal.has_value());
        CHECK_FALSE(running->error_tag.has_value());
        CHECK_FALSE(running->error_message.has_value());
        CHECK(running->started_ms == 1000);
        CHECK_FALSE(running->finished_ms.has_value());
        CHECK(running->stdout_bytes == 0);
        CHECK(running->stderr_bytes == 0);
        CHECK(running->result_json == "{}");
        CHECK_FALSE(storage->get_command(second)->cwd.has_value());

        storage->finish_command(first, CommandFinish{.state = "finished",
                                                     .exit_code = 2,
                                                     .finished_ms = 1500,
                                                     .result_json = R"({"utime_ms":12})"});
        storage->finish_command(second, CommandFinish{.state = "failed",
                                                      .signal = "SIGKILL",
                                                      .error_tag = "killed",
                                                      .error_message = "killed by signal 9",
                                                      .finished_ms = 1600});
        CHECK(tag_of([&] { storage->finish_command(9999, CommandFinish{.finished_ms = 1}); }) ==
              "not-found");
        CHECK(tag_of([&] { storage->finish_command(first, CommandFinish{.state = "running"}); }) ==
              "invalid-argument");
        CHECK_FALSE(storage->get_command(9999).has_value());
    }
    auto storage = open_sqlite_storage(path);
    const auto done = storage->get_command(first);
    REQUIRE(done.has_value());
    CHECK(done->state == "finished");
    CHECK(done->exit_code == 2);
    CHECK_FALSE(done->signal.has_value());
    CHECK(done->finished_ms == 1500);
    CHECK(done->result_json == R"({"utime_ms":12})");
    const auto failed = storage->get_command(second);
    CHECK(failed->state == "failed");
    CHECK_FALSE(failed->exit_code.has_value());
    CHECK(failed->signal == "SIGKILL");
    CHECK(failed->error_tag == "killed");
    CHECK(failed->error_message == "killed by signal 9");
    // Ids keep increasing after a reopen.
    CHECK(storage->create_command("alpha", "[]", std::nullopt, 2000) > second);
}

TEST_CASE("list_commands returns the most recent ones oldest first", "[storage][commands]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    CHECK(storage->list_commands(10).empty());
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 7; ++i) {
        ids.push_back(storage->create_command("a" + std::to_string(i), "[]", std::nullopt, 100 + i));
    }
    const auto last3 = storage->list_commands(3);
    REQUIRE(last3.size() == 3);
    CHECK(last3[0].id == ids[4]);
    CHECK(last3[1].id == ids[5]);
    CHECK(last3[2].id == ids[6]);
    CHECK(last3[2].agent == "a6");
    CHECK(storage->list_commands(100).size() == 7);
    CHECK(storage->list_commands(100).front().id == ids[0]);
    CHECK(storage->list_commands(0).empty());
    CHECK(storage->list_commands(static_cast<std::size_t>(-1)).size() == 7);
}

TEST_CASE("running commands are marked lost at start-up", "[storage][commands]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    const auto a = storage->create_command("x", "[]", std::nullopt, 1);
    const auto b = storage->create_command("x", "[]", std::nullopt, 2);
    const auto c = storage->create_command("x", "[]", std::nullopt, 3);
    storage->finish_command(b, CommandFinish{.exit_code = 0, .finished_ms = 5});
    CHECK(storage->mark_running_commands_lost(100) == 2);
    for (const auto id : {a, c}) {
        const auto lost = storage->get_command(id);
        CHECK(lost->state == "lost");
        CHECK(lost->finished_ms == 100);
        CHECK(lost->error_tag == "master-restarted");
    }
    CHECK(storage->get_command(b)->state == "finished");
    CHECK(storage->get_command(b)->finished_ms == 5);
    CHECK(storage->mark_running_commands_lost(200) == 0);
}

TEST_CASE("a stored agent session keeps its plain commands for a restarted master", "[storage][commands]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    storage->open_agent_session({"s-1", "x", 0, 1});
    storage->open_agent_session({"s-2", "y", 0, 2});
    const auto plain = storage->create_command("x", "[]", std::nullopt, 1);
    const auto shell = storage->create_command("x", "[]", std::nullopt, 2);
    const auto no_channel = storage->create_command("x", "[]", std::nullopt, 3);
    const auto other = storage->create_command("y", "[]", std::nullopt, 4);
    storage->set_command_channel(plain, "s-1", 7);
    storage->set_command_channel(shell, "s-1", 9);
    storage->set_command_channel(other, "s-2", 1);
    storage->add_shell_session(ShellSessionRecord{.command_id = shell, .agent = "x", .opened_by = "t"});
    storage->append_log_chunks({chunk(plain, 0, kLogStreamStdout, {1, 2}, 2), chunk(plain, 1, kLogStreamStdout, {3}, 1)});
    storage->set_agent_session_received("s-1", 812);
    CHECK(storage->find_agent_session("s-1")->received == 812);
    CHECK_FALSE(storage->find_agent_session("s-3"));
    CHECK(storage->list_agent_sessions(std::nullopt).size() == 2);
    CHECK_THROWS(storage->set_command_channel(99, "s-1", 3));

    // Start-up: the shell and the command that never got a channel are lost; the rest waits.
    CHECK(storage->mark_running_commands_lost(100, /*spare_reattachable=*/true) == 2);
    CHECK(storage->get_command(shell)->state == "lost");
    CHECK(storage->get_command(no_channel)->state == "lost");
    const auto up = storage->reattachable_commands("s-1");
    REQUIRE(up.size() == 1);
    CHECK(up[0].id == plain);
    CHECK(up[0].channel == 7);
    CHECK(up[0].next_chunk == 2);

    // The agent did not come back: its session closes and its command is lost.
    CHECK(storage->close_agent_session("s-1", 200, "gone") == 1);
    CHECK(storage->get_command(plain)->state == "lost");
    CHECK(storage->get_command(plain)->error_tag == "agent-lost");
    CHECK_FALSE(storage->find_agent_session("s-1"));
    CHECK(storage->reattachable_commands("s-2").size() == 1);
}

TEST_CASE("log chunks round-trip byte-exact in index order", "[storage][logs]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    std::int64_t id = 0;
    const auto bytes = all_byte_values();
    std::vector<std::uint8_t> reversed(bytes.rbegin(), bytes.rend());
    std::vector<std::uint8_t> big(200 * 1024);
    for (std::size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<std::uint8_t>((i * 7919) >> 3);
    }
    {
        auto storage = open_sqlite_storage(path);
        id = storage->create_command("alpha", "[]", std::nullopt, 1);
        const auto other = storage->create_command("beta", "[]", std::nullopt, 1);
        // Out of order within the batch, two commands, every stream and codec.
        storage->append_log_chunks({
            chunk(id, 1, kLogStreamStderr, reversed, 1000, kLogCodecDeflate),
            chunk(id, 0, kLogStreamStdout, bytes, 256),
            chunk(other, 0, kLogStreamTty, {0x00}, 7, kLogCodecZstd),
        });
        storage->append_log_chunks({
            chunk(id, 2, kLogStreamTty, {}, 0),
            chunk(id, 3, kLogStreamStdout, big, 5000000, kLogCodecZstd),
        });
        storage->append_log_chunks({});
        const auto other_cmd = storage->get_command(other);
        CHECK(other_cmd->stdout_bytes == 7);  // tty output counts as stdout
        CHECK(other_cmd->stderr_bytes == 0);
    }
    auto storage = open_sqlite_storage(path);
    const auto cmd = storage->get_command(id);
    CHECK(cmd->stdout_bytes == 256 + 5000000);
    CHECK(cmd->stderr_bytes == 1000);

    const auto all = storage->read_log_chunks(id, -1, 100);
    REQUIRE(all.size() == 4);
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].command_id == id);
        CHECK(all[i].index == static_cast<std::int64_t>(i));
    }
    CHECK(all[0].data == bytes);
    CHECK(all[0].stream == kLogStreamStdout);
    CHECK(all[0].codec == kLogCodecNone);
    CHECK(all[0].raw_length == 256);
    CHECK(all[1].data == reversed);
    CHECK(all[1].stream == kLogStreamStderr);
    CHECK(all[1].codec == kLogCodecDeflate);
    CHECK(all[1].raw_length == 1000);
    CHECK(all[2].data.empty());
    CHECK(all[2].stream == kLogStreamTty);
    CHECK(all[3].data == big);
    CHECK(all[3].codec == kLogCodecZstd);
    CHECK(all[3].raw_length == 5000000);

    // Paging.
    const auto page1 = storage->read_log_chunks(id, -1, 2);
    REQUIRE(page1.size() == 2);
    CHECK(page1[1].index == 1);
    const auto page2 = storage->read_log_chunks(id, page1.back().index, 2);
    REQUIRE(page2.size() == 2);
    CHECK(page2[0].index == 2);
    CHECK(page2[1].index == 3);
    CHECK(storage->read_log_chunks(id, 3, 2).empty());
    CHECK(storage->read_log_chunks(id, -1, 0).empty());
    CHECK(storage->read_log_chunks(12345, -1, 10).empty());
}

TEST_CASE("a bad log batch is rejected as a whole", "[storage][logs]") {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("state.db"));
    const auto id = storage->create_command("alpha", "[]", std::nullopt, 1);
    storage->append_log_chunks({chunk(id, 0, kLogStreamStdout, {1, 2, 3}, 3)});

    // Index 0 already stored: the new index 1 must not be kept and the counts not change.
    CHECK(tag_of([&] {
              storage->append_log_chunks({chunk(id, 1, kLogStreamStdout, {4}, 1),
                                          chunk(id, 0, kLogStreamStdout, {5}, 1)});
          }) == "exists");
    // Duplicate inside one batch.
    CHECK(tag_of([&] {
              storage->append_log_chunks({chunk(id, 5, kLogStreamStdout, {4}, 1),
                                          chunk(id, 5, kLogStreamStdout, {5}, 1)});
          }) == "exists");
    // Unknown command.
    CHECK(tag_of([&] {
              storage->append_log_chunks({chunk(id, 6, kLogStreamStdout, {4}, 1),
                                          chunk(999, 0, kLogStreamStdout, {5}, 1)});
          }) == "not-found");
    CHECK(tag_of([&] { storage->append_log_chunks({chunk(id, 7, 4, {4}, 1)}); }) ==
          "invalid-argument");
    CHECK(tag_of([&] { storage->append_log_chunks({chunk(id, 7, 0, {4}, 1)}); }) ==
          "invalid-argument");
    CHECK(tag_of([&] { storage->append_log_chunks({chunk(id, 7, 1, {4}, 1, 3)}); }) ==
          "invalid-argument");
    CHECK(tag_of([&] { storage->append_log_chunks({chunk(id, -1, 1, {4}, 1)}); }) ==
          "invalid-argument");

    const auto stored = storage->read_log_chunks(id, -1, 100);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].data == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(storage->get_command(id)->stdout_bytes == 3);

    // The storage is still usable, also inside a caller's transaction.
    storage->in_transaction([&] {
        storage->append_log_chunks({chunk(id, 1, kLogStreamStderr, {9}, 1)});
        storage->finish_command(id, CommandFinish{.exit_code = 0, .finished_ms = 2});
    });
    CHECK(storage->read_log_chunks(id, 0, 10).size() == 1);
    CHECK(storage->get_command(id)->stderr_bytes == 1);
    CHECK(storage->get_command(id)->state == "finished");
}

TEST_CASE("large log chunks are kept in the command's log file, small ones in the database",
          "[storage][logs]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    std::vector<std::uint8_t> big(kLogFileChunkBytes);
    for (std::size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<std::uint8_t>(i * 13);
    }
    const std::vector<std::uint8_t> small(kLogFileChunkBytes - 1, 0x5a);
    std::int64_t id = 0;
    {
        auto storage = open_sqlite_storage(path);
        id = storage->create_command("alpha", "[]", std::nullopt, 1);
        storage->append_log_chunks({chunk(id, 0, kLogStreamStdout, big, 99, kLogCodecZstd),
                                    chunk(id, 1, kLogStreamStderr, small, 16383),
                                    chunk(id, 2, kLogStreamStdout, big, 16384)});
    }
    const std::string file = path + "-logs/" + std::to_string(id) + ".log";
    CHECK(std::filesystem::file_size(file) == 2 * big.size());
    auto storage = open_sqlite_storage(path);
    const auto all = storage->read_log_chunks(id, -1, 10);
    REQUIRE(all.size() == 3);
    CHECK(all[0].data == big);
    CHECK(all[0].codec == kLogCodecZstd);
    CHECK(all[0].raw_length == 99);
    CHECK(all[1].data == small);
    CHECK(all[1].stream == kLogStreamStderr);
    CHECK(all[2].data == big);
    CHECK(storage->read_log_chunks(id, 1, 10).at(0).data == big);

    // A file that lost its tail (power loss) is an error, not a short log.
    std::filesystem::resize_file(file, big.size() + 10);
    CHECK(tag_of([&] { storage->read_log_chunks(id, 1, 10); }) == "storage-error");
    CHECK(storage->read_log_chunks(id, -1, 2).size() == 2);
}

TEST_CASE("a log batch that is not committed leaves no bytes that a chunk points at", "[storage][logs]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    auto storage = open_sqlite_storage(path);
    const auto id = storage->create_command("alpha", "[]", std::nullopt, 1);
    const std::string file = path + "-logs/" + std::to_string(id) + ".log";
    const std::vector<std::uint8_t> first(kLogFileChunkBytes, 1), second(kLogFileChunkBytes, 2),
        third(kLogFileChunkBytes, 3);
    storage->append_log_chunks({chunk(id, 0, kLogStreamStdout, first, 1)});

    // A duplicate index fails the batch before any byte is written.
    CHECK(tag_of([&] {
              storage->append_log_chunks({chunk(id, 1, kLogStreamStdout, second, 1),
                                          chunk(id, 0, kLogStreamStdout, second, 1)});
          }) == "exists");
    CHECK(std::filesystem::file_size(file) == first.size());
    // A batch for a command that does not exist makes no file.
    CHECK(tag_of([&] { storage->append_log_chunks({chunk(999, 0, kLogStreamStdout, second, 1)}); }) ==
          "not-found");
    CHECK_FALSE(std::filesystem::exists(path + "-logs/999.log"));

    // Written, then rolled back by the caller: the bytes stay behind, pointed at by nothing.
    CHECK_THROWS(storage->in_transaction([&] {
        storage->append_log_chunks({chunk(id, 1, kLogStreamStdout, second, 1)});
        throw std::runtime_error("the caller fails");
    }));
    CHECK(std::filesystem::file_size(file) == first.size() + second.size());
    storage->append_log_chunks({chunk(id, 1, kLogStreamStdout, third, 1)});
    const auto all = storage->read_log_chunks(id, -1, 10);
    REQUIRE(all.size() == 2);
    CHECK(all[0].data == first);
    CHECK(all[1].data == third);
    CHECK(storage->get_command(id)->stdout_bytes == 2);
}
