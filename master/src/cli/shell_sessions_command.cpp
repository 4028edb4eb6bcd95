// `remsh shell-sessions [--json]` and `remsh shell-sessions replay ID`: the debug shells the
// master recorded (GET /api/v1/shell-sessions, .../ID/recording).
#include "api_main.hpp"
#include "asciicast.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "duration.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"
#include "text_table.hpp"
#include "time_format.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <thread>

namespace remsh::cli {

namespace json = boost::json;

int shell_sessions_command(const ConnectionSettings& settings, const ShellSessionsOptions& o) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        if (o.replay_id.empty()) {
            const json::value response = co_await api.get("/api/v1/shell-sessions");
            if (o.json) {
                (void)write_all(1, json::serialize(response) + "\n");
                co_return exit_ok;
            }
            const std::int64_t now = now_ms();
            std::vector<TableRow> rows;
            rows.push_back({"ID", "AGENT", "OPENED-BY", "STARTED", "DURATION", "EXIT"});
            const json::value* list = member(response, "sessions");
            if (list != nullptr && list->is_array()) {
                for (const json::value& s : list->get_array()) {
                    const auto started = get_int(s, "started_ms").value_or(0);
                    const auto ended = get_int(s, "ended_ms");
                    rows.push_back({scalar_text(member(s, "id")), get_string(s, "agent"), get_string(s, "opened_by"),
                                    local_time(started),
                                    ended ? format_duration_s((*ended - started) / 1000) : "open (" + relative_time(started, now) + ")",
                                    ended ? scalar_text(member(s, "exit_code")) : "-"});
                }
            }
            (void)write_all(1, format_table(rows));
            co_return exit_ok;
        }
        if (o.replay_id.find_first_not_of("0123456789") != std::string::npos) {
            throw CliError("bad-request", "a shell session id is a number (see remsh shell-sessions)");
        }
        const std::string text = co_await api.get_text("/api/v1/shell-sessions/" + o.replay_id + "/recording");
        if (o.raw) {
            (void)write_all(1, text);  // for `asciinema play -` or to keep
            co_return exit_ok;
        }
        std::string error;
        const auto cast = parse_asciicast(text, error);
        if (!cast) {
            throw CliError("bad-response", "shell session " + o.replay_id + ": " + error);
        }
        double previous = 0;
        for (const CastEvent& e : cast->events) {
            if (e.kind != "o") {
                continue;
            }
            const double pause = replay_pause(previous, e.time, o.speed, o.idle_limit);
            previous = e.time;
            if (pause > 0) {
                std::this_thread::sleep_for(std::chrono::duration<double>(pause));
            }
            if (write_all(1, e.data) != WriteResult::ok) {
                co_return exit_error;  // the terminal or pipe went away
            }
        }
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
