// `remsh sync LOCAL_DIR AGENT:DIR [--delete] [--dry-run]`: makes AGENT:DIR hold what LOCAL_DIR
// holds, sending only what differs (sync_plan.hpp): the agent's manifest (sizes, modes,
// sha256) against the local tree, then one put_tree stream with just the differing entries,
// then removals.
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "file_digest.hpp"
#include "file_spec.hpp"
#include "fs_call.hpp"
#include "local_tree.hpp"
#include "output_sink.hpp"
#include "remote_fs.hpp"
#include "sync_plan.hpp"
#include "remsh/protocol/name_field.hpp"

#include <boost/json/object.hpp>

#include <sys/stat.h>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

const char* type_text(protocol::TreeEntryType t) {
    switch (t) {
        case protocol::TreeEntryType::directory: return "directory";
        case protocol::TreeEntryType::symlink: return "symlink";
        case protocol::TreeEntryType::file: return "file";
    }
    return "other";
}

}  // namespace

int sync_command(const ConnectionSettings& settings, const SyncOptions& options) {
    const FileSpec local = parse_file_spec(options.source);
    const FileSpec remote = parse_file_spec(options.destination);
    if (local.remote() || !remote.remote()) {
        print_error("usage", "sync goes from a local directory to AGENT:DIR");
        return exit_usage;
    }
    struct stat st {};
    if (::stat(local.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        print_error("not-a-directory", local.path + " is not a local directory");
        return exit_error;
    }
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        const std::string& agent = *remote.agent;
        std::vector<LocalEntry> scanned = scan_local_tree(local.path);
        std::vector<ManifestEntry> mine;
        mine.reserve(scanned.size());
        for (const auto& e : scanned) {
            ManifestEntry m;
            m.path = e.entry.path;
            m.type = type_text(e.entry.type);
            m.size = e.entry.size;
            m.mode = e.entry.mode;
            m.target = e.entry.target;
            mine.push_back(std::move(m));
        }
        std::vector<ManifestEntry> theirs;
        if ((co_await remote_stat(api, agent, remote.path)).exists) {
            theirs = co_await remote_entries(api, agent, remote.path, "manifest", true);
        }
        const SyncPlan plan = plan_sync(mine, theirs, options.delete_extra,
                                        [&](std::size_t i) { return file_sha256(scanned[i].location); });
        if (!plan.replace.empty() && !options.delete_extra) {
            // Like rsync without --delete: nothing is sent, nothing there is lost.
            const std::string& first = plan.replace.front();
            throw CliError("exists", agent + ":" + path_join(remote.path, first) +
                                         " is a directory on the agent and not here" +
                                         (plan.replace.size() > 1
                                              ? " (and " + std::to_string(plan.replace.size() - 1) + " more)"
                                              : std::string()) +
                                         "; --delete replaces it with all it holds");
        }
        std::string report;
        if (options.dry_run) {
            for (std::size_t i : plan.send) {
                report += "send   " + mine[i].path + "\n";
            }
            for (const auto& p : plan.replace) {
                report += "delete " + p + "/ (replaced)\n";
            }
            for (const auto& p : plan.remove) {
                report += "delete " + p + "\n";
            }
        }
        if (!options.dry_run && !plan.send.empty()) {
            std::vector<LocalEntry> chosen;
            for (std::size_t i : plan.send) {
                chosen.push_back(scanned[i]);
            }
            co_await put_local_tree(api, agent, remote.path, std::move(chosen), /*parents=*/true,
                                    path_base_name(local.path));
        }
        if (!options.dry_run) {
            for (std::size_t i = 0; i < plan.remove.size(); i += 1024) {
                std::vector<std::string> batch;
                for (std::size_t j = i; j < plan.remove.size() && j < i + 1024; ++j) {
                    batch.push_back(path_join(remote.path, plan.remove[j]));
                }
                FsCall call;
                call.request = json::object{{"agent", agent}, {"op", "remove"}};
                protocol::put_names(call.request, "paths", batch);
                co_await fs_call(api, std::move(call));
            }
        }
        report += std::string(options.dry_run ? "would send " : "sent ") + std::to_string(plan.send.size()) + " of " +
                  std::to_string(mine.size()) + " entries (" + std::to_string(plan.bytes) + " bytes of files), " +
                  (options.dry_run ? "would delete " : "deleted ") +
                  std::to_string(plan.remove.size() + plan.replace.size()) + "\n";
        (void)write_all(1, report);
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
