// `remsh ls`, `remsh stat`, `remsh rm`, `remsh mkdir`: the agent's file primitives, one call
// each (rm and mkdir check first where the POSIX tools would refuse).
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "file_spec.hpp"
#include "fs_call.hpp"
#include "json_access.hpp"
#include "output_sink.hpp"
#include "remote_fs.hpp"
#include "time_format.hpp"
#include "remsh/protocol/name_field.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <map>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

FileSpec remote_operand(const std::string& text) {
    FileSpec spec = parse_file_spec(text);
    if (!spec.remote()) {
        throw CliError("usage", "'" + text + "' is not AGENT:PATH");
    }
    return spec;
}

std::string mode_text(const std::string& type, std::uint32_t mode) {
    std::string s = type == "directory" ? "d" : type == "symlink" ? "l" : type == "file" ? "-" : "?";
    const char* rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; ++i) {
        s += (mode & (0400u >> i)) ? rwx[i] : '-';
    }
    return s;
}

std::string long_line(const ManifestEntry& e) {
    char head[96];
    std::snprintf(head, sizeof head, "%s %12llu %s ", mode_text(e.type, e.mode).c_str(),
                  static_cast<unsigned long long>(e.size), local_time(e.mtime_ms).c_str());
    std::string line = head + e.path;
    if (e.type == "symlink") {
        line += " -> " + e.target;
    }
    return line + "\n";
}

}  // namespace

int ls_command(const ConnectionSettings& settings, const LsOptions& options) {
    const FileSpec spec = remote_operand(options.target);
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        FsCall call;
        call.request = fs_request(*spec.agent, "list", spec.path);
        if (options.recursive) {
            call.request["recursive"] = true;
        }
        if (!options.glob.empty()) {
            call.request["glob"] = options.glob;
        }
        EntryLines lines;
        call.on_data = [&](std::uint8_t stream, std::string_view bytes) {
            if (stream != 1) {
                return;
            }
            if (options.json) {
                if (write_all(1, bytes) != WriteResult::ok) {
                    throw CliError("output-closed", "stdout was closed");
                }
                return;
            }
            std::string out;
            for (const ManifestEntry& e : lines.add(bytes)) {
                out += options.long_format ? long_line(e) : e.path + (e.type == "directory" ? "/" : "") + "\n";
            }
            if (write_all(1, out) != WriteResult::ok) {
                throw CliError("output-closed", "stdout was closed");
            }
        };
        co_await fs_call(api, std::move(call));
        co_return exit_ok;
    });
}

int stat_command(const ConnectionSettings& settings, const StatOptions& options) {
    const FileSpec spec = remote_operand(options.target);
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        FsCall call;
        call.request = fs_request(*spec.agent, "stat", spec.path);
        const json::object result = co_await fs_call(api, std::move(call));
        if (options.json) {
            (void)write_all(1, json::serialize(result) + "\n");
            co_return exit_ok;
        }
        const RemoteInfo info = remote_info_from(json::value(result));
        if (!info.exists) {
            throw CliError("not-found", options.target + " does not exist");
        }
        char mode[16];
        std::snprintf(mode, sizeof mode, "%04o", info.mode);
        std::string text = "path:  " + spec.path + "\ntype:  " + info.type + "\nsize:  " + std::to_string(info.size) +
                           "\nmode:  " + mode + " (" + mode_text(info.type, info.mode) + ")\nmtime: " +
                           local_time(info.mtime_ms) + "\n";
        if (info.type == "symlink") {
            text += "target: " + info.target + "\n";
        }
        (void)write_all(1, text);
        co_return exit_ok;
    });
}

int rm_command(const ConnectionSettings& settings, const RmOptions& options) {
    std::map<std::string, std::vector<std::string>> by_agent;  // in the order given per agent
    for (const auto& t : options.targets) {
        FileSpec spec = remote_operand(t);
        by_agent[*spec.agent].push_back(spec.path);
    }
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        for (const auto& [agent, paths] : by_agent) {
            std::vector<std::string> doomed;
            for (const auto& p : paths) {
                const RemoteInfo info = co_await remote_stat(api, agent, p);
                if (!info.exists) {
                    if (!options.force) {
                        throw CliError("not-found", agent + ":" + p + " does not exist");
                    }
                    continue;
                }
                if (info.type == "directory" && !options.recursive) {
                    throw CliError("is-a-directory", agent + ":" + p + " is a directory (use -r)");
                }
                doomed.push_back(p);
            }
            // In batches that fit one protocol message (64 KiB): at most 1024 paths, ~32 KiB.
            for (std::size_t i = 0; i < doomed.size();) {
                FsCall call;
                call.request = json::object{{"agent", agent}, {"op", "remove"}};
                std::vector<std::string> batch;
                std::size_t bytes = 0;
                for (; i < doomed.size() && batch.size() < 1024; ++i) {
                    json::object one;  // its size in the message, escaped or in base64
                    protocol::put_names(one, "paths", {doomed[i]});
                    const std::size_t size = json::serialize(one).size();
                    if (!batch.empty() && bytes + size > 32 * 1024) {
                        break;
                    }
                    bytes += size;
                    batch.push_back(doomed[i]);
                }
                protocol::put_names(call.request, "paths", batch);
                co_await fs_call(api, std::move(call));
            }
        }
        co_return exit_ok;
    });
}

namespace {

net::awaitable<void> make_remote_directory(ApiClient& api, const FileSpec& spec, bool parents) {
    if (!parents) {
        // mkdir without -p: the directory must be new and its parent must exist.
        if ((co_await remote_stat(api, *spec.agent, spec.path)).exists) {
            throw CliError("exists", *spec.agent + ":" + spec.path + " exists");
        }
        std::string parent = spec.path;
        while (parent.size() > 1 && parent.back() == '/') {
            parent.pop_back();
        }
        const auto slash = parent.rfind('/');
        parent = slash == std::string::npos ? "." : slash == 0 ? "/" : parent.substr(0, slash);
        const RemoteInfo up = co_await remote_stat(api, *spec.agent, parent);
        if (!up.exists) {
            throw CliError("not-found", *spec.agent + ":" + parent + " does not exist (use -p)");
        }
    }
    FsCall call;
    call.request = fs_request(*spec.agent, "mkdir", spec.path);
    co_await fs_call(api, std::move(call));
}

}  // namespace

int mkdir_command(const ConnectionSettings& settings, const MkdirOptions& options) {
    std::vector<FileSpec> specs;
    for (const auto& t : options.targets) {
        specs.push_back(remote_operand(t));
    }
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        // Like mkdir(1): an operand that fails is reported and the others are still made.
        int code = exit_ok;
        for (const auto& spec : specs) {
            try {
                co_await make_remote_directory(api, spec, options.parents);
            } catch (const CliError& e) {
                print_error(e.tag, e.what());
                code = exit_error;
            }
        }
        co_return code;
    });
}

}  // namespace remsh::cli
