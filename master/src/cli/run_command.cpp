// `remsh run AGENT -- CMD...` and `remsh run --label L -- CMD...`.
#include "agent_info.hpp"
#include "api_client.hpp"
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "output_sink.hpp"
#include "run_session.hpp"
#include "signal_names.hpp"
#include "escape_filter.hpp"
#include "terminal.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace remsh::cli {

namespace net = boost::asio;
using error_code = boost::system::error_code;

namespace {

constexpr std::size_t stdin_chunk = 64 * 1024;

// Ctrl-C (SIGINT), and TERM or HUP (a CI job's timeout, a closed ssh session), are passed on:
// the first sends the same signal to the command(s) and KILL 5 s later if they have not ended;
// a second sends KILL at once; a third (or a second before anything started) gives up waiting
// and exits 128+N, leaving the command(s) to the master.
class Interrupter {
public:
    Interrupter(net::io_context& ioc, const std::vector<int>& numbers,
                std::vector<RunSession*> sessions, std::function<void(int)> give_up)
        : signals_(ioc), kill_timer_(ioc), sessions_(std::move(sessions)),
          give_up_(std::move(give_up)) {
        for (const int n : numbers) {
            signals_.add(n);
        }
        wait();
    }

    void stop() {
        error_code ignored;
        signals_.cancel(ignored);
        kill_timer_.cancel();
    }

private:
    void wait() {
        signals_.async_wait([this](const error_code& ec, int number) {
            if (ec) {
                return;
            }
            on_signal(number);
            wait();
        });
    }

    void on_signal(int number) {
        ++count_;
        const bool any_started = std::any_of(sessions_.begin(), sessions_.end(),
                                             [](RunSession* s) { return s->started(); });
        if (count_ >= 3 || (count_ >= 2 && !any_started)) {
            give_up_(number);
            return;
        }
        if (count_ == 1) {
            const std::string name(signal_name(number));
            for (RunSession* s : sessions_) {
                s->signal(name);
            }
            if (::isatty(2) != 0) {
                print_error("interrupt", "sent " + name + "; Ctrl-C again (or 5 s) sends KILL");
            }
            kill_timer_.expires_after(RunSession::kill_grace);
            kill_timer_.async_wait([this](const error_code& ec) {
                if (!ec) {
                    kill_all();
                }
            });
            return;
        }
        kill_timer_.cancel();
        kill_all();
    }

    void kill_all() {
        for (RunSession* s : sessions_) {
            s->signal("KILL");
        }
    }

    net::signal_set signals_;
    net::steady_timer kill_timer_;
    std::vector<RunSession*> sessions_;
    std::function<void(int)> give_up_;
    int count_ = 0;
};

// Our stdin to the command, then its end. A pipe or a terminal is read through the
// io_context; a regular file or /dev/null (which epoll cannot watch) with plain reads.
// With an escape filter (a shell on a terminal), "~." ends the session: on_escape runs.
net::awaitable<void> forward_stdin(RunSession& session, InputKind kind,
                                   net::posix::stream_descriptor& descriptor,
                                   EscapeFilter* escape = nullptr,
                                   std::function<void()> on_escape = nullptr) {
    std::vector<char> buffer(stdin_chunk);
    try {
        if (kind == InputKind::file) {
            for (;;) {
                const ssize_t n = ::read(0, buffer.data(), buffer.size());
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0) {
                    session.input_failed(errno);
                    co_return;
                }
                if (n == 0) {
                    break;
                }
                co_await session.send_stdin(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            }
        } else if (kind == InputKind::tty || kind == InputKind::stream) {
            descriptor.assign(0);
            for (;;) {
                error_code ec;
                const std::size_t n = co_await descriptor.async_read_some(
                    net::buffer(buffer), net::redirect_error(net::use_awaitable, ec));
                if (ec == net::error::eof) {
                    break;
                }
                if (ec) {
                    session.input_failed(ec.value());
                    co_return;
                }
                if (escape != nullptr) {
                    EscapeFilter::Result r = escape->feed(std::string_view(buffer.data(), n));
                    if (!r.forward.empty()) {
                        co_await session.send_stdin(r.forward);
                    }
                    if (r.disconnect) {
                        on_escape();
                        co_return;
                    }
                    continue;
                }
                co_await session.send_stdin(std::string_view(buffer.data(), n));
            }
        }
        co_await session.send_stdin_eof();
    } catch (const std::exception&) {
        // the connection broke (RunSession::run() reports it), or stdin cannot be read: the
        // command then simply gets no more input
    }
}

RunRequest make_request(const RunOptions& options, const std::string& agent) {
    RunRequest r;
    r.agent = agent;
    r.argv = options.command;
    r.shell = options.shell;
    r.cwd = options.cwd;
    r.env = options.env;
    r.timeout_s = options.timeout_s;
    r.with_stdin = true;
    r.interactive = options.interactive;
    return r;
}

int run_single(const ConnectionSettings& settings, const RunOptions& options) {
    const InputKind input = input_kind(0);
    // A terminal's keystrokes go to the command only through a pty (--pty); without one the
    // command gets an empty stdin, as with `ssh -n`.
    const bool forward = input != InputKind::closed && !(input == InputKind::tty && !options.pty);
    const bool local_terminal = options.pty && input == InputKind::tty;

    RunRequest request = make_request(options, options.agent);
    if (options.pty) {
        const auto size = window_size(0).value_or(window_size(1).value_or(WindowSize{}));
        request.pty = RunRequest::Size{size.cols, size.rows};
    }

    const FdFlagsGuard stdin_flags(0);
    const FdFlagsGuard stdout_flags(1);
    std::optional<RawMode> raw_mode;

    net::io_context ioc;
    ApiClient api(settings);
    net::posix::stream_descriptor stdin_descriptor(ioc);
    net::signal_set winch(ioc);
    EscapeFilter escape;
    net::steady_timer leave_timer(ioc);
    DirectSink sink;
    RunSession session(api, std::move(request), sink);
    session.eof_at_start = !forward;

    std::function<void()> wait_winch = [&] {
        winch.async_wait([&](const error_code& ec, int) {
            if (ec) {
                return;
            }
            if (const auto size = window_size(0)) {
                session.resize(size->cols, size->rows);
            }
            wait_winch();
        });
    };

    std::optional<CommandOutcome> outcome;
    session.on_started = [&] {
        if (local_terminal) {
            raw_mode.emplace(0);
            winch.add(SIGWINCH);
            wait_winch();
        }
        if (forward && local_terminal && options.interactive) {
            net::co_spawn(ioc, forward_stdin(session, input, stdin_descriptor, &escape, [&] {
                // Like ssh's "~.": the remote shell gets a hangup, we leave at once.
                session.signal("HUP");
                outcome = CommandOutcome{exit_error, "disconnected", "disconnected (~.)"};
                // A moment for the hangup to go out, then stop.
                leave_timer.expires_after(std::chrono::milliseconds(200));
                leave_timer.async_wait([&ioc](const error_code&) { ioc.stop(); });
            }), [](std::exception_ptr) {});
        } else if (forward) {
            net::co_spawn(ioc, forward_stdin(session, input, stdin_descriptor),
                          [](std::exception_ptr) {});
        }
    };

    // With the local terminal in raw mode, TERM and HUP must not kill remsh before it restores
    // the terminal: they end the wait instead (the command goes on; `remsh logs ID` shows it).
    net::signal_set termination(ioc);
    if (local_terminal) {
        termination.add(SIGTERM);
        termination.add(SIGHUP);
        termination.async_wait([&](const error_code& ec, int number) {
            if (ec) {
                return;
            }
            outcome = CommandOutcome{128 + number, "terminated", "remsh was asked to stop"};
            ioc.stop();
        });
    }
    // With the terminal in raw mode, Ctrl-C is a keystroke for the remote side, and TERM and
    // HUP are handled above; otherwise all three are passed on.
    const std::vector<int> passed_on =
        local_terminal ? std::vector<int>{SIGINT} : std::vector<int>{SIGINT, SIGTERM, SIGHUP};
    Interrupter interrupter(ioc, passed_on, {&session}, [&](int number) {
        outcome = CommandOutcome{128 + number, number == SIGINT ? "interrupted" : "terminated",
                                 "stopped waiting for the command" +
                                     (session.command_id().empty()
                                          ? std::string()
                                          : " (see `remsh logs " + session.command_id() + "`)")};
        ioc.stop();
    });
    net::co_spawn(ioc, session.run(), [&](std::exception_ptr error, CommandOutcome result) {
        if (!outcome) {
            outcome = error ? CommandOutcome{exit_error, "error", "internal error"} : std::move(result);
        }
        interrupter.stop();
        ioc.stop();
    });
    ioc.run();

    raw_mode.reset();
    if (stdin_descriptor.is_open()) {
        stdin_descriptor.release();  // fd 0 stays open
    }
    if (!outcome) {
        outcome = CommandOutcome{exit_error, "error", "internal error"};
    }
    if (!outcome->tag.empty()) {
        print_error(outcome->tag, outcome->message);
    }
    return outcome->exit_code;
}

int run_fan_out(const ConnectionSettings& settings, const RunOptions& options) {
    // Which agents: every online one with the label.
    std::vector<std::string> names;
    const int listed = run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        const auto agents = parse_agent_list(co_await api.get("/api/v1/agents"));
        for (const AgentInfo& a : agents) {
            if (a.available() && a.has_label(options.label)) {
                names.push_back(a.name);
            }
        }
        co_return exit_ok;
    });
    if (listed != exit_ok) {
        return listed;
    }
    if (names.empty()) {
        print_error("no-agents", "no online agent that takes work (approved, not draining) has the label '" + options.label + "'");
        return exit_error;
    }

    net::io_context ioc;
    ApiClient api(settings);
    std::vector<std::unique_ptr<PrefixedSink>> sinks;
    std::vector<std::unique_ptr<RunSession>> sessions;
    std::vector<RunSession*> session_ptrs;
    for (const std::string& name : names) {
        sinks.push_back(std::make_unique<PrefixedSink>(name));
        sessions.push_back(std::make_unique<RunSession>(api, make_request(options, name), *sinks.back()));
        sessions.back()->eof_at_start = true;  // stdin is not forwarded to several commands
        session_ptrs.push_back(sessions.back().get());
    }

    int worst = exit_ok;
    std::size_t remaining = sessions.size();
    int gave_up = 0;  // the signal's number
    Interrupter interrupter(ioc, {SIGINT, SIGTERM, SIGHUP}, session_ptrs, [&](int number) {
        gave_up = number;
        ioc.stop();
    });
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        net::co_spawn(ioc, sessions[i]->run(),
                      [&, i](std::exception_ptr error, CommandOutcome result) {
                          if (error) {
                              result = CommandOutcome{exit_error, "error", "internal error"};
                          }
                          if (!result.tag.empty()) {
                              sinks[i]->error(result.tag, result.message);
                          }
                          worst = std::max(worst, result.exit_code);
                          if (--remaining == 0) {
                              interrupter.stop();
                              ioc.stop();
                          }
                      });
    }
    ioc.run();
    if (gave_up != 0) {
        for (auto& sink : sinks) {
            sink->finish();
        }
        print_error(gave_up == SIGINT ? "interrupted" : "terminated", "stopped waiting for the commands");
        return 128 + gave_up;
    }
    return worst;
}

}  // namespace

int run_command(const ConnectionSettings& settings, const RunOptions& options) {
    if (const auto problem = run_request_problem(make_request(options, options.agent))) {
        print_error("usage", *problem);
        return exit_usage;
    }
    if (!options.label.empty()) {
        return run_fan_out(settings, options);
    }
    return run_single(settings, options);
}

}  // namespace remsh::cli
