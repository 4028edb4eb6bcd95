// `remsh secret set|list|delete`: the master's job secrets (admin). A value is read from stdin
// (or --from-file), never from the command line, where it would land in shell history and in
// every process listing.
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"
#include "output_sink.hpp"
#include "text_table.hpp"
#include "time_format.hpp"
#include "remsh/protocol/utf8.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <unistd.h>

namespace remsh::cli {

namespace json = boost::json;

namespace {

std::string read_value(const SecretOptions& o) {
    std::string value;
    if (!o.from_file.empty()) {
        std::ifstream in(o.from_file, std::ios::binary);
        if (!in) {
            throw CliError("not-found", "cannot read " + o.from_file);
        }
        value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        return value;  // a file's bytes exactly (a key file's final newline is part of it)
    }
    if (::isatty(0)) {
        (void)write_all(2, "value of " + o.name + " (end with Ctrl-D): ");
    }
    value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    // `echo VALUE | remsh secret set NAME`: the newline echo adds is not part of the value.
    if (!value.empty() && value.back() == '\n') {
        value.pop_back();
        if (!value.empty() && value.back() == '\r') {
            value.pop_back();
        }
    }
    return value;
}

}  // namespace

int secret_command(const ConnectionSettings& settings, const SecretOptions& o) {
    // The value is read before connecting: a prompt should not wait on the network.
    const std::string value = o.action == "set" ? read_value(o) : std::string();
    if (!protocol::is_utf8(value)) {
        // It becomes an environment variable's text, and travels as JSON text.
        print_error("usage", "the value of " + o.name +
                                 " is not UTF-8 text; secrets are text (encode a binary key, e.g. with base64)");
        return exit_usage;
    }
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        if (o.action == "list") {
            const json::value answer = co_await api.get("/api/v1/secrets");
            if (o.json) {
                (void)write_all(1, json::serialize(answer) + "\n");
                co_return exit_ok;
            }
            std::vector<TableRow> rows;
            rows.push_back({"NAME", "UPDATED", "BY"});
            if (const json::value* list = member(answer, "secrets"); list && list->is_array()) {
                for (const json::value& s : list->get_array()) {
                    rows.push_back({get_string(s, "name"), local_time(get_int(s, "updated_ms").value_or(0)),
                                    get_string(s, "updated_by")});
                }
            }
            (void)write_all(1, format_table(rows));
            co_return exit_ok;
        }
        const std::string target = "/api/v1/secrets/" + o.name;
        if (o.action == "delete") {
            co_await api.del(target);
            (void)write_all(2, "secret " + o.name + " deleted\n");
            co_return exit_ok;
        }
        json::object request;
        request["value"] = value;
        const json::value answer = co_await api.post(target, std::move(request));
        const json::value* created = member(answer, "created");
        (void)write_all(2, "secret " + o.name + (created && created->is_bool() && created->as_bool() ? " created" : " replaced") +
                               " (" + std::to_string(value.size()) + " bytes; jobs that list it in secrets: get it as $" +
                               o.name + ")\n");
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
