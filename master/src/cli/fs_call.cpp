#include "fs_call.hpp"

#include "cli_error.hpp"
#include "json_access.hpp"
#include "remsh/protocol/name_field.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <exception>
#include <memory>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

constexpr char kFileStream = 4;

// Sends the upload piece by piece; each send completes once written, so the master's pace
// (the agent's credit) paces the reads of the local file.
net::awaitable<void> upload(std::shared_ptr<WebSocket> ws, std::function<void(std::string&)> next_piece,
                            std::shared_ptr<std::exception_ptr> failure, std::shared_ptr<bool> done) {
    try {
        for (;;) {
            if (*done) {
                co_return;
            }
            std::string message(1, kFileStream);
            next_piece(message);
            const bool last = message.size() == 1;  // the end: the stream byte alone
            co_await ws->send(true, std::move(message));
            if (last) {
                co_return;
            }
        }
    } catch (...) {
        // Reading the local file failed: the read in fs_call waits for an agent that waits
        // for our bytes; dropping the connection ends both (the agent removes its partial file).
        *failure = std::current_exception();
        ws->abort();
    }
}

}  // namespace

json::object fs_request(const std::string& agent, std::string_view op, const std::string& path) {
    json::object request{{"agent", agent}, {"op", op}};
    protocol::put_name(request, "path", path);  // a name that is not UTF-8 goes in base64
    return request;
}

net::awaitable<json::object> fs_call(ApiClient& api, FsCall call) {
    std::shared_ptr<WebSocket> ws = co_await api.websocket("/api/v1/fs");
    co_await ws->send(false, json::serialize(call.request));
    auto failure = std::make_shared<std::exception_ptr>();
    auto done = std::make_shared<bool>(false);
    if (call.next_piece) {
        net::co_spawn(ws->executor(), upload(ws, call.next_piece, failure, done), [](std::exception_ptr) {});
    }
    // Leaving early (an error, an interrupt) drops the connection: a running upload stops at
    // once instead of waiting for room the master no longer makes.
    struct StopUpload {
        std::shared_ptr<bool> done;
        WebSocket& ws;
        bool answered = false;
        ~StopUpload() {
            *done = true;
            if (!answered) {
                ws.abort();
            }
        }
    } stop{done, *ws};
    for (;;) {
        if (*failure) {
            std::rethrow_exception(*failure);  // reading the local file failed
        }
        std::optional<WsMessage> message;
        try {
            message = co_await ws->read();
        } catch (const CliError&) {
            if (*failure) {
                std::rethrow_exception(*failure);  // the upload's own error is the cause
            }
            throw;
        }
        if (!message) {
            if (*failure) {
                std::rethrow_exception(*failure);
            }
            throw CliError("connection-lost", "the master closed the connection before the operation ended");
        }
        if (message->binary) {
            if (message->data.empty()) {
                continue;
            }
            const auto stream = static_cast<std::uint8_t>(message->data.front());
            if (call.on_data) {
                call.on_data(stream, std::string_view(message->data).substr(1));
            }
            continue;
        }
        json::error_code ec;
        json::value event = json::parse(message->data, ec);
        if (ec || !event.is_object()) {
            continue;
        }
        const std::string type = get_string(event, "type");
        if (type == "result") {
            json::object result = event.get_object();
            result.erase("type");
            stop.answered = true;
            co_return result;
        }
        if (type == "error") {
            std::string tag = get_string(event, "tag");
            std::string text = get_string(event, "message");
            throw CliError(tag.empty() ? "error" : tag, text.empty() ? "the operation failed" : text);
        }
    }
}

}  // namespace remsh::cli
