// `remsh logs`: the recent commands; `remsh logs ID [-f]`: one command's output.
#include "api_main.hpp"
#include "cli_error.hpp"
#include "command_record.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"
#include "output_sink.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

// A path segment: unreserved characters as they are, the rest %-escaped.
std::string escape_segment(const std::string& text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 0xF];
        }
    }
    return out;
}

net::awaitable<int> list_commands(ApiClient& api, const LogsOptions& options) {
    const json::value response =
        co_await api.get("/api/v1/commands?limit=" + std::to_string(options.limit));
    if (options.json) {
        (void)write_all(1, json::serialize(response) + "\n");
    } else {
        (void)write_all(1, format_command_table(parse_command_list(response)));
    }
    co_return exit_ok;
}

}  // namespace

net::awaitable<int> show_command_log(ApiClient& api, const LogsOptions& options) {
    std::string target = "/api/v1/commands/" + escape_segment(options.id) + "/log";
    if (options.follow) {
        target += "?follow=1";
    }
    const std::unique_ptr<WebSocket> ws = co_await api.websocket(target);
    DirectSink sink;
    for (;;) {
        std::optional<WsMessage> message = co_await ws->read();
        if (!message) {
            if (options.follow) {
                throw CliError("connection-lost",
                               "the master closed the connection before the command ended");
            }
            co_return exit_ok;  // the stored output so far, of a command still running
        }
        if (message->binary) {
            if (message->data.empty()) {
                continue;
            }
            const int stream = static_cast<unsigned char>(message->data.front());
            if (!sink.write(stream, std::string_view(message->data).substr(1))) {
                co_return exit_ok;  // our reader went away (`remsh logs 7 | head`)
            }
            continue;
        }
        json::error_code ec;
        const json::value event = json::parse(message->data, ec);
        if (ec) {
            continue;
        }
        const std::string type = get_string(event, "type");
        if (type == "result") {
            const CommandOutcome outcome = command_outcome(parse_command_record(event));
            // A command that could not start, was lost or cancelled says so; its exit code
            // only matters with --exit-code.
            if (!outcome.tag.empty() && outcome.tag != "running") {
                print_error(outcome.tag, outcome.message);
            }
            co_return options.exit_code ? outcome.exit_code : exit_ok;
        }
        if (type == "error") {
            const std::string tag = get_string(event, "tag");
            throw CliError(tag.empty() ? "error" : tag, get_string(event, "message"));
        }
    }
}

int logs_command(const ConnectionSettings& settings, const LogsOptions& options) {
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        if (options.id.empty()) {
            co_return co_await list_commands(api, options);
        }
        co_return co_await show_command_log(api, options);
    });
}

}  // namespace remsh::cli
