// Log append throughput: hidden by default; run with
//   master_storage_tests "[.bench]"
// Optional environment: REMSH_BENCH_SECONDS (default 3), REMSH_BENCH_DIR (default $TMPDIR or
// /tmp), to measure on the disk the master will use.
#include "storage/storage.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace remsh::master;
using remsh::master::test::TempDir;

TEST_CASE("append_log_chunks throughput with 64 KiB chunks in batches of 16", "[.bench]") {
    constexpr std::size_t kChunkSize = 64 * 1024;
    constexpr std::size_t kBatch = 16;
    const char* seconds_env = std::getenv("REMSH_BENCH_SECONDS");
    const double seconds = seconds_env != nullptr ? std::atof(seconds_env) : 3.0;

    TempDir dir;
    auto storage = open_sqlite_storage(dir.file("bench.db"));
    const auto command = storage->create_command("bench", "[]", std::nullopt, 0);

    // Incompressible bytes, like already-compressed log data. A few distinct chunk bodies so
    // nothing downstream can benefit from identical pages.
    std::mt19937_64 rng(42);
    std::vector<std::vector<std::uint8_t>> bodies(4, std::vector<std::uint8_t>(kChunkSize));
    for (auto& body : bodies) {
        for (auto& b : body) {
            b = static_cast<std::uint8_t>(rng());
        }
    }
    std::vector<LogChunk> batch(kBatch);
    for (std::size_t i = 0; i < kBatch; ++i) {
        batch[i].command_id = command;
        batch[i].stream = kLogStreamStdout;
        batch[i].codec = kLogCodecZstd;
        batch[i].data = bodies[i % bodies.size()];
        batch[i].raw_length = 4 * kChunkSize;
    }

    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::int64_t next_index = 0;
    std::size_t batches = 0;
    double elapsed = 0;
    do {
        for (auto& c : batch) {
            c.index = next_index++;
        }
        storage->append_log_chunks(batch);
        ++batches;
        elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < seconds);

    const double chunks = static_cast<double>(batches * kBatch);
    const double mib = chunks * static_cast<double>(kChunkSize) / (1024.0 * 1024.0);
    std::printf("append_log_chunks: %.0f chunks of 64 KiB in %.2f s = %.0f chunks/s (%.0f MiB/s, "
                "%.0f batches/s of %zu)\n",
                chunks, elapsed, chunks / elapsed, mib / elapsed,
                static_cast<double>(batches) / elapsed, kBatch);

    // Sanity: everything is there and readable.
    CHECK(storage->get_command(command)->stdout_bytes ==
          static_cast<std::uint64_t>(next_index) * 4 * kChunkSize);
    const auto last = storage->read_log_chunks(command, next_index - 2, 10);
    REQUIRE(last.size() == 1);
    CHECK(last[0].data == bodies[(kBatch - 1) % bodies.size()]);
}
