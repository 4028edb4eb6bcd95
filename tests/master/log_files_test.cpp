// LogFiles: the append-only files that hold large log chunks.
#include "storage/log_files.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

using namespace remsh::master;
using remsh::master::test::tag_of;
using remsh::master::test::TempDir;

namespace {

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> bytes(n);
    for (std::size_t i = 0; i < n; ++i) {
        bytes[i] = static_cast<std::uint8_t>(i * 31 + seed);
    }
    return bytes;
}

}  // namespace

TEST_CASE("log files grow at their end and read back exactly, also when opened again", "[storage][logs]") {
    TempDir dir;
    const std::string logs = dir.file("logs");
    const auto a = pattern(100000, 1);
    const auto b = pattern(5, 2);
    {
        LogFiles files(logs);
        CHECK(std::filesystem::status(logs).permissions() == std::filesystem::perms::owner_all);
        CHECK(files.end_of(7) == 0);
        CHECK_FALSE(std::filesystem::exists(logs + "/7.log"));  // asking creates nothing
        files.write_at(7, 0, a);
        CHECK(files.end_of(7) == a.size());
        files.write_at(7, a.size(), b);
        CHECK(files.end_of(7) == a.size() + b.size());
        CHECK(files.read(7, 0, a.size()) == a);
    }
    LogFiles files(logs);
    CHECK(files.read(7, a.size(), b.size()) == b);
    CHECK(files.read(7, 10, 0).empty());
    CHECK(std::filesystem::file_size(logs + "/7.log") == a.size() + b.size());
}

TEST_CASE("a log file that lost bytes reads as a storage-error, never short", "[storage][logs]") {
    TempDir dir;
    LogFiles files(dir.file("logs"));
    files.write_at(3, 0, pattern(1000, 0));
    std::filesystem::resize_file(dir.file("logs/3.log"), 600);  // as after a power loss
    CHECK(files.read(3, 0, 600).size() == 600);
    CHECK(tag_of([&] { files.read(3, 500, 200); }) == "storage-error");
    CHECK(tag_of([&] { files.read(4, 0, 1); }) == "storage-error");  // no file at all
}

TEST_CASE("more commands than stay open are opened again when used", "[storage][logs]") {
    TempDir dir;
    LogFiles files(dir.file("logs"));
    for (std::int64_t id = 1; id <= 150; ++id) {
        files.write_at(id, 0, pattern(10, static_cast<std::uint8_t>(id)));
    }
    for (std::int64_t id = 150; id >= 1; --id) {
        files.write_at(id, 10, pattern(3, static_cast<std::uint8_t>(id + 1)));
    }
    for (std::int64_t id = 1; id <= 150; ++id) {
        auto expected = pattern(10, static_cast<std::uint8_t>(id));
        const auto tail = pattern(3, static_cast<std::uint8_t>(id + 1));
        expected.insert(expected.end(), tail.begin(), tail.end());
        CHECK(files.read(id, 0, 13) == expected);
    }
}

TEST_CASE("a log directory that cannot be made is a storage-error", "[storage][logs]") {
    TempDir dir;
    CHECK(tag_of([&] { LogFiles files(dir.file("missing/logs")); }) == "storage-error");
}
