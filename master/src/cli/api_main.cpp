#include "api_main.hpp"

#include "cli_error.hpp"
#include "exit_codes.hpp"
#include "output_sink.hpp"
#include "signal_names.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>

namespace remsh::cli {

namespace {

// How long an interrupted command may take to clean up (remove a remote temporary file)
// before it is left behind.
constexpr std::chrono::seconds kCleanupGrace{10};

}  // namespace

int report_exception(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const CliError& e) {
        print_error(e.tag, e.what());
        return exit_code_for_error_tag(e.tag);
    } catch (const std::exception& e) {
        print_error("error", e.what());
    } catch (...) {
        print_error("error", "unknown failure");
    }
    return exit_error;
}

int run_api_main(const ConnectionSettings& settings,
                 const std::function<boost::asio::awaitable<int>(ApiClient&)>& body) {
    namespace net = boost::asio;
    // Declared before the io_context: operations it destroys may still refer to them.
    ApiClient api(settings);
    net::cancellation_signal cancel;
    net::io_context ioc;
    int code = exit_error;
    bool finished = false;
    // Ctrl-C, a closed terminal or a kill: the command is cancelled and unwinds, so that what
    // it started cleans up after itself (a download's temporary file, an upload's remote
    // one). A second signal exits at once.
    int interrupted_by = 0;
    net::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
    net::steady_timer grace(ioc);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int number) {
            if (ec || finished) {
                return;
            }
            if (interrupted_by != 0) {
                std::_Exit(128 + number);
            }
            interrupted_by = number;
            cancel.emit(net::cancellation_type::terminal);
            grace.expires_after(kCleanupGrace);
            grace.async_wait([&](const boost::system::error_code& timer_ec) {
                if (!timer_ec) {
                    ioc.stop();  // an operation that ignored the cancellation: give up on it
                }
            });
            signals.async_wait(on_signal);
        };
    signals.async_wait(on_signal);
    net::co_spawn(ioc, body(api),
                  net::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr error, int result) {
                      finished = true;
                      signals.cancel();
                      grace.cancel();
                      if (interrupted_by == 0) {
                          code = error ? report_exception(error) : result;
                      }
                  }));
    ioc.run();
    if (interrupted_by != 0) {
        const std::string_view name = signal_name(interrupted_by);
        print_error("interrupted", "stopped by SIG" + std::string(name.empty() ? "?" : name) +
                                       (finished ? "" : " (cleanup did not finish in time)"));
        return 128 + interrupted_by;
    }
    return code;
}

}  // namespace remsh::cli
