// One file operation on an agent through the master's `GET /api/v1/fs` WebSocket (docs/api.md):
// sends the request (the protocol's fs open fields plus "agent"), streams an upload if there
// is one, hands every received data message to a callback, and returns the operation's result.
// The agent's errors arrive as CliError with the agent's tag (not-found, disk-full,
// path-outside-workdir...).
#pragma once

#include "api_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace remsh::cli {

struct FsCall {
    boost::json::object request;  // {"agent":..,"op":..,"path":..,...}
    // Data from the agent: stream 1 (entries) or 4 (a file, a tree archive). May throw.
    std::function<void(std::uint8_t stream, std::string_view bytes)> on_data;
    // The upload (write, put_tree): appends its next piece to `message`, which holds the
    // message's stream byte already (no copy of the piece); appends nothing at the end.
    // Null: nothing to send.
    std::function<void(std::string& message)> next_piece;
};

// The result's fields. Throws CliError.
boost::asio::awaitable<boost::json::object> fs_call(ApiClient& api, FsCall call);

// A request object for AGENT and OP on PATH, to which callers add the op's fields.
boost::json::object fs_request(const std::string& agent, std::string_view op, const std::string& path);

}  // namespace remsh::cli
