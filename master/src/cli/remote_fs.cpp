#include "remote_fs.hpp"

#include "cli_error.hpp"
#include "fs_call.hpp"
#include "json_access.hpp"
#include "progress.hpp"
#include "remsh/protocol/name_field.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

// A name of a listing entry (docs/protocol.md 9.6: `key`, or `key`_b64 when not UTF-8). One
// that is missing (when required) or malformed is the agent's fault, never an empty name:
// an empty path would stand for the listed directory itself (sync --delete would remove it).
std::string name_in_entry(const json::object& o, std::string_view key, bool required) {
    const std::string key_b64 = std::string(key) + "_b64";
    if (!required && !o.contains(key) && !o.contains(key_b64)) {
        return {};
    }
    std::optional<std::string> name = protocol::read_name(o, key);
    if (!name || (required && name->empty())) {
        throw CliError("bad-response", "the agent sent a listing entry without a usable " + std::string(key));
    }
    return std::move(*name);
}

}  // namespace

RemoteInfo remote_info_from(const json::value& v) {
    RemoteInfo info;
    const json::value* exists = member(v, "exists");
    info.exists = exists && exists->is_bool() && exists->get_bool();
    const json::value* entry = member(v, "entry");
    if (!info.exists || !entry) {
        return info;
    }
    info.type = get_string(*entry, "type");
    info.size = static_cast<std::uint64_t>(get_int(*entry, "size").value_or(0));
    info.mode = static_cast<std::uint32_t>(get_int(*entry, "mode").value_or(0));
    info.mtime_ms = get_int(*entry, "mtime_ms").value_or(0);
    if (entry->is_object()) info.target = name_in_entry(entry->get_object(), "target", false);
    return info;
}

ManifestEntry manifest_entry_from(const json::value& v) {
    ManifestEntry e;
    if (!v.is_object()) {
        throw CliError("bad-response", "the agent sent a listing line that is not an object");
    }
    e.path = name_in_entry(v.get_object(), "path", true);
    e.target = name_in_entry(v.get_object(), "target", false);
    e.type = get_string(v, "type");
    e.size = static_cast<std::uint64_t>(get_int(v, "size").value_or(0));
    e.mode = static_cast<std::uint32_t>(get_int(v, "mode").value_or(0));
    e.sha256 = get_string(v, "sha256");
    e.mtime_ms = get_int(v, "mtime_ms").value_or(0);
    return e;
}

net::awaitable<RemoteInfo> remote_stat(ApiClient& api, const std::string& agent, const std::string& path) {
    FsCall call;
    call.request = fs_request(agent, "stat", path);
    const json::object result = co_await fs_call(api, std::move(call));
    co_return remote_info_from(json::value(result));
}

std::vector<ManifestEntry> EntryLines::add(std::string_view bytes) {
    partial_.append(bytes);
    std::vector<ManifestEntry> out;
    std::size_t start = 0;
    for (;;) {
        const auto nl = partial_.find('\n', start);
        if (nl == std::string::npos) {
            break;
        }
        json::error_code ec;
        json::value v = json::parse(std::string_view(partial_).substr(start, nl - start), ec);
        if (ec) {
            throw CliError("bad-response", "the agent sent a malformed listing line");
        }
        out.push_back(manifest_entry_from(v));
        start = nl + 1;
    }
    partial_.erase(0, start);
    if (partial_.size() > 64 * 1024) {  // an entry is a few hundred bytes: a peer gone wrong
        throw CliError("bad-response", "the agent sent a listing line longer than 64 KiB");
    }
    return out;
}

net::awaitable<std::vector<ManifestEntry>> remote_entries(ApiClient& api, const std::string& agent,
                                                          const std::string& path, const std::string& op,
                                                          bool recursive) {
    std::vector<ManifestEntry> entries;
    EntryLines lines;
    FsCall call;
    call.request = fs_request(agent, op, path);
    if (recursive) {
        call.request["recursive"] = true;
    }
    call.on_data = [&](std::uint8_t stream, std::string_view bytes) {
        if (stream == 1) {
            for (auto& e : lines.add(bytes)) {
                entries.push_back(std::move(e));
            }
        }
    };
    co_await fs_call(api, std::move(call));
    if (!lines.empty()) {
        throw CliError("bad-response", "the agent's listing ended mid-line");
    }
    co_return entries;
}

net::awaitable<void> put_local_tree(ApiClient& api, const std::string& agent, const std::string& dir,
                                    std::vector<LocalEntry> entries, bool parents, const std::string& label) {
    std::uint64_t total = 0;
    for (const auto& e : entries) {
        total += e.entry.size;
    }
    Progress progress(label, total);
    LocalTreeSource source(std::move(entries));
    std::uint64_t reported = 0;
    FsCall call;
    call.request = fs_request(agent, "put_tree", dir);
    if (parents) {
        call.request["parents"] = true;
    }
    call.next_piece = [&](std::string& message) {
        message += source.next_piece();
        progress.add(source.content_bytes() - reported);
        reported = source.content_bytes();
    };
    co_await fs_call(api, std::move(call));
    progress.finish();
}

}  // namespace remsh::cli
