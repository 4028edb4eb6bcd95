// Small compositions of the agent's file primitives that several commands share: stat a remote
// path, and read a listing or a manifest (JSON lines on stream 1) into entries.
#pragma once

#include "api_client.hpp"
#include "local_tree.hpp"
#include "sync_plan.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace remsh::cli {

struct RemoteInfo {
    bool exists = false;
    std::string type;  // file, directory, symlink, other
    std::uint64_t size = 0;
    std::uint32_t mode = 0;
    std::int64_t mtime_ms = 0;
    std::string target;
};

RemoteInfo remote_info_from(const boost::json::value& v);
ManifestEntry manifest_entry_from(const boost::json::value& v);

boost::asio::awaitable<RemoteInfo> remote_stat(ApiClient& api, const std::string& agent, const std::string& path);

// `op` is "list" (with `recursive`) or "manifest" (always recursive, with sha256).
boost::asio::awaitable<std::vector<ManifestEntry>> remote_entries(ApiClient& api, const std::string& agent,
                                                                  const std::string& path, const std::string& op,
                                                                  bool recursive);

// Sends `entries` (local paths relative to their root) into AGENT:DIR as one tree archive
// (put_tree), with a progress line named `label`. `parents`: create DIR's missing parents.
boost::asio::awaitable<void> put_local_tree(ApiClient& api, const std::string& agent, const std::string& dir,
                                            std::vector<LocalEntry> entries, bool parents,
                                            const std::string& label);

// Splits the JSON-lines of a listing as it arrives in pieces.
class EntryLines {
public:
    // Appends bytes; returns the complete lines' entries.
    std::vector<ManifestEntry> add(std::string_view bytes);
    bool empty() const { return partial_.empty(); }

private:
    std::string partial_;
};

}  // namespace remsh::cli
