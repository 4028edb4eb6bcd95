// `remsh repo add|list|fetch|remove`: the repositories the master mirrors for jobs'
// checkout: steps (docs/api.md, "Repositories").
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"
#include "text_table.hpp"
#include "time_format.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace remsh::cli {

namespace json = boost::json;

int repo_command(const ConnectionSettings& settings, const RepoOptions& o) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        if (o.action == "list") {
            const json::value answer = co_await api.get("/api/v1/repos");
            if (o.json) {
                (void)write_all(1, json::serialize(answer) + "\n");
                co_return exit_ok;
            }
            std::vector<TableRow> rows;
            rows.push_back({"NAME", "URL", "FETCHED"});
            if (const json::value* list = member(answer, "repos"); list && list->is_array()) {
                for (const json::value& r : list->get_array()) {
                    const auto fetched = get_int(r, "fetched_ms");
                    rows.push_back({get_string(r, "name"), get_string(r, "url"), fetched ? local_time(*fetched) : "-"});
                }
            }
            (void)write_all(1, format_table(rows));
            co_return exit_ok;
        }
        if (o.action == "remove") {
            co_await api.del("/api/v1/repos/" + o.name);
            (void)write_all(2, "repository " + o.name + " removed (its mirror too)\n");
            co_return exit_ok;
        }
        json::value answer;
        if (o.action == "add") {
            json::object request;
            request["name"] = o.name;
            request["url"] = o.url;
            answer = co_await api.post("/api/v1/repos", std::move(request));
        } else {
            answer = co_await api.post("/api/v1/repos/" + o.name + "/fetch", json::object{});
        }
        const std::string head = get_string(answer, "head");
        // The HEAD commit alone on stdout, for scripts; a sentence for people on stderr.
        (void)write_all(1, (head.empty() ? "-" : head) + "\n");
        (void)write_all(2, "repository " + o.name + (o.action == "add" ? " added and fetched" : " fetched") +
                               (head.empty() ? " (no commit yet)" : "; HEAD is " + head.substr(0, 12)) + "\n");
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
