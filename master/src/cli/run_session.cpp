#include "run_session.hpp"

#include "cli_error.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstring>
#include <exception>
#include <utility>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

net::awaitable<void> send_message(std::shared_ptr<WebSocket> ws, bool binary, std::string data) {
    co_await ws->send(binary, std::move(data));
}

void send_detached(const std::shared_ptr<WebSocket>& ws, bool binary, std::string data) {
    if (!ws) {
        return;
    }
    net::co_spawn(ws->executor(), send_message(ws, binary, std::move(data)),
                  [](std::exception_ptr) {
                      // a broken connection shows up in RunSession::run()'s read loop
                  });
}

}  // namespace

RunSession::RunSession(ApiClient& api, RunRequest request, OutputSink& sink)
    : api_(api), request_(std::move(request)), sink_(sink) {
    request_.codecs = OutputDecoder::codec_names();
}

void RunSession::send_text_detached(std::string text) { send_detached(ws_, false, std::move(text)); }

void RunSession::signal(const std::string& name) {
    if (finished_) {
        return;
    }
    if (!started_) {
        if (pending_signal_ != "KILL") {
            pending_signal_ = name;
        }
        return;
    }
    send_text_detached(json::serialize(json::object{{"type", "signal"}, {"signal", name}}));
}

void RunSession::resize(int cols, int rows) {
    if (!started_ || finished_) {
        return;
    }
    send_text_detached(
        json::serialize(json::object{{"type", "resize"}, {"cols", cols}, {"rows", rows}}));
}

net::awaitable<void> RunSession::send_stdin(std::string_view bytes) {
    std::string message;
    message.reserve(bytes.size() + 1);
    message += '\0';
    message.append(bytes);
    co_await ws_->send(true, std::move(message));
}

net::awaitable<void> RunSession::send_stdin_eof() { co_await ws_->send(true, std::string(1, '\0')); }

void RunSession::on_output(std::string_view message) {
    if (message.empty()) {
        return;
    }
    const OutputDecoder::Output out = decoder_.decode(message);
    if (output_closed_ && out.stream != 2) {
        return;
    }
    if (!sink_.write(out.stream, out.bytes) && !output_closed_) {
        // Our stdout's reader went away (`remsh run ... | head`), or it cannot be written (a
        // full disk): end the command like a local one ended by SIGPIPE would, KILL it if it
        // ignores that, and drop the rest of its output.
        output_closed_ = true;
        stop_command();
    }
}

void RunSession::input_failed(int error) {
    if (input_error_ == 0 && !finished_) {
        input_error_ = error;
        stop_command();
    }
}

void RunSession::stop_command() {
    signal("TERM");
    if (kill_timer_ || !ws_) {
        return;
    }
    kill_timer_ = std::make_shared<net::steady_timer>(ws_->executor(), kill_grace);
    kill_timer_->async_wait([this](const boost::system::error_code& ec) {
        if (!ec && !finished_) {
            signal("KILL");
        }
    });
}

void RunSession::end() {
    finished_ = true;
    if (kill_timer_) {
        kill_timer_->cancel();
    }
    sink_.finish();
}

CommandOutcome RunSession::with_io_failure(CommandOutcome outcome) {
    const std::string stored = id_.empty() ? "" : " (its output is stored: `remsh logs " + id_ + "`)";
    if (const auto failure = output_failure(); failure && failure->fd == 1) {
        mark_output_failure_reported();
        return CommandOutcome{exit_error, "output-error", describe(*failure) + "; the command was stopped" + stored};
    }
    if (input_error_ != 0) {
        return CommandOutcome{exit_error, "input-error",
                              std::string("cannot read stdin: ") + std::strerror(input_error_) +
                                  "; the command was stopped rather than given a partial input" + stored};
    }
    return outcome;
}

net::awaitable<CommandOutcome> RunSession::run() {
    try {
        ws_ = co_await api_.websocket("/api/v1/run");
        co_await ws_->send(false, run_request_json(request_));
        for (;;) {
            std::optional<WsMessage> message = co_await ws_->read();
            if (!message) {
                throw CliError("connection-lost",
                               "the master closed the connection before the command ended");
            }
            if (message->binary) {
                on_output(message->data);
                continue;
            }
            json::error_code ec;
            const json::value event = json::parse(message->data, ec);
            if (ec) {
                continue;  // not an event we know
            }
            const std::string type = get_string(event, "type");
            if (type == "started") {
                if (started_) {
                    continue;
                }
                started_ = true;
                id_ = scalar_text(member(event, "id"));
                if (!pending_signal_.empty()) {
                    signal(std::exchange(pending_signal_, std::string()));
                }
                if (eof_at_start) {
                    send_detached(ws_, true, std::string(1, '\0'));
                }
                if (on_started) {
                    on_started();
                }
            } else if (type == "result") {
                end();
                CommandRecord record = parse_command_record(event);
                if (record.id.empty()) {
                    record.id = id_;
                }
                co_return with_io_failure(command_outcome(record));
            } else if (type == "error") {
                end();
                std::string tag = get_string(event, "tag");
                std::string text = get_string(event, "message");
                if (tag.empty()) {
                    tag = "error";
                }
                if (text.empty()) {
                    text = "the master reported an error";
                }
                co_return CommandOutcome{exit_code_for_error_tag(tag), tag, text};
            }
        }
    } catch (const CliError& e) {
        end();
        std::string text = e.what();
        if (e.tag == "connection-lost" && !id_.empty()) {
            text += " (command " + id_ + " may still be running: `remsh logs " + id_ +
                    " -f` follows it)";
        }
        co_return CommandOutcome{exit_code_for_error_tag(e.tag), e.tag, text};
    } catch (const std::exception& e) {
        end();
        co_return CommandOutcome{exit_error, "error", e.what()};
    }
}

}  // namespace remsh::cli
