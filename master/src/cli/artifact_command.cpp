// `remsh artifact list|get`: the trees a job's upload steps kept on the master. `get` extracts
// one into a local directory as it downloads (the archive is never held whole), or saves the
// archive itself with --archive.
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "copy_conflicts.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"
#include "local_tree_sink.hpp"
#include "text_table.hpp"
#include "time_format.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <filesystem>

namespace remsh::cli {

namespace json = boost::json;

namespace {

void check_name(const std::string& name) {
    const bool ok = !name.empty() && name.size() <= 128 && name.front() != '.' &&
                    name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                        std::string::npos;
    if (!ok) {
        throw CliError("bad-request", "an artifact's name is 1 to 128 of A-Z a-z 0-9 . _ - (see remsh artifact list)");
    }
}

}  // namespace

int artifact_command(const ConnectionSettings& settings, const ArtifactOptions& o) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        if (o.action == "list") {
            const json::value answer = co_await api.get(job_api_path(o.job) + "/artifacts");
            if (o.json) {
                (void)write_all(1, json::serialize(answer) + "\n");
                co_return exit_ok;
            }
            std::vector<TableRow> rows;
            rows.push_back({"NAME", "ENTRIES", "BYTES", "ARCHIVE", "CREATED"});
            if (const json::value* list = member(answer, "artifacts"); list && list->is_array()) {
                for (const json::value& a : list->get_array()) {
                    rows.push_back({get_string(a, "name"), scalar_text(member(a, "entries")), scalar_text(member(a, "bytes")),
                                    scalar_text(member(a, "size")), local_time(get_int(a, "created_ms").value_or(0))});
                }
            }
            (void)write_all(1, format_table(rows));
            co_return exit_ok;
        }
        // get
        check_name(o.name);
        const std::string target = job_api_path(o.job) + "/artifacts/" + o.name;
        if (!o.archive.empty()) {
            // The archive as stored (docs/protocol.md 9.7), written under a temporary name first.
            const std::string temp = o.archive + ".remsh-part";
            std::FILE* file = std::fopen(temp.c_str(), "wb");
            if (!file) {
                throw CliError("io-error", "cannot create " + temp);
            }
            std::uint64_t bytes = 0;
            try {
                co_await api.download(target, [&](std::string_view piece) {
                    if (std::fwrite(piece.data(), 1, piece.size(), file) != piece.size()) {
                        throw CliError("io-error", "cannot write " + temp);
                    }
                    bytes += piece.size();
                });
                if (std::fclose(std::exchange(file, nullptr)) != 0) {
                    throw CliError("io-error", "cannot write " + temp);
                }
                std::filesystem::rename(temp, o.archive);
            } catch (...) {
                if (file) {
                    std::fclose(file);
                }
                std::remove(temp.c_str());
                throw;
            }
            (void)write_all(2, "saved artifact " + o.name + " of job " + o.job + " to " + o.archive + " (" +
                                   std::to_string(bytes) + " bytes)\n");
            co_return exit_ok;
        }
        const std::string dir = o.output.empty() ? o.name : o.output;
        LocalTreeSink sink(dir);
        protocol::TreeArchiveReader reader;
        co_await api.download(target, [&](std::string_view piece) {
            if (auto error = reader.feed(protocol::as_bytes(piece), sink)) {
                throw CliError(std::string(protocol::tag_name(error->tag)), error->message);
            }
        });
        if (auto error = reader.finish()) {
            throw CliError(std::string(protocol::tag_name(error->tag)), error->message);
        }
        (void)write_all(2, "artifact " + o.name + " of job " + o.job + " -> " + dir + " (" + std::to_string(sink.entries()) +
                               " entries, " + std::to_string(sink.bytes()) + " bytes)\n");
        print_refusals(sink.refusals());
        co_return sink.refusals().empty() ? exit_ok : exit_error;
    });
}

}  // namespace remsh::cli
