// `remsh agent ...` (administration of agents), `remsh token list|delete` and
// `remsh apitoken create`: thin clients of the master's admin routes (docs/api.md).
#include "agent_info.hpp"
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

namespace {

std::string joined(const std::vector<std::string>& items, const char* separator = ", ") {
    std::string out;
    for (const auto& s : items) {
        out += (out.empty() ? "" : separator) + s;
    }
    return out.empty() ? "-" : out;
}

// Agent names travel in the URL path: refuse what would change the path.
std::string agent_path(const std::string& name) {
    if (name.empty() || name.find_first_of("/?#% ") != std::string::npos) {
        throw CliError("bad-request", "not an agent name: '" + name + "'");
    }
    return "/api/v1/agents/" + name;
}

std::string policy_text(const json::value* policy) {
    if (policy == nullptr || !policy->is_object()) {
        return "unknown (agent too old or never connected)";
    }
    const json::value& p = *policy;
    const json::value* shell = member(p, "allow_shell");
    const json::value* confine = member(p, "confine");
    const auto max = get_int(p, "max_concurrent");
    std::string text = (shell != nullptr && shell->is_bool() && shell->get_bool()) ? "shell allowed"
                                                                                    : "shell denied";
    text += (confine != nullptr && confine->is_bool() && !confine->get_bool())
                ? ", files anywhere"
                : ", files confined to the work dir";
    text += max ? ", at most " + std::to_string(*max) + " concurrent" : ", no concurrency limit";
    text += "; extra paths: " + joined(get_strings(p, "allow_paths"));
    text += "; env withheld: " + joined(get_strings(p, "deny_env"));
    return text;
}

std::string show_text(const json::value& a) {
    const std::int64_t now = now_ms();
    std::vector<TableRow> rows;
    auto row = [&](const std::string& key, const std::string& value) {
        rows.push_back({key + ":", value.empty() ? "-" : value});
    };
    row("name", get_string(a, "name"));
    row("state", get_string(a, "status"));
    row("approval", get_string(a, "approval"));
    row("labels", joined(get_strings(a, "labels")) + " (admin: " + joined(get_strings(a, "admin_labels")) +
                      "; owner: " + joined(get_strings(a, "owner_labels")) + ")");
    std::string os = get_string(a, "os");
    if (const std::string v = get_string(a, "os_version"); !v.empty()) {
        os += " (" + v + ")";
    }
    row("os", os);
    row("arch", get_string(a, "arch"));
    row("cpus", scalar_text(member(a, "cpus")));
    if (auto mb = get_int(a, "memory_mb")) {
        row("memory", std::to_string(*mb) + " MB");
    }
    if (auto mb = get_int(a, "disk_free_mb")) {
        row("disk free", std::to_string(*mb) + " MB in " + get_string(a, "work_dir"));
    }
    row("hostname", get_string(a, "hostname"));
    row("version", get_string(a, "version"));
    row("owner", get_string(a, "admin"));
    row("description", get_string(a, "description"));
    row("policy", policy_text(member(a, "policy")));
    if (auto since = get_int(a, "connected_since_ms")) {
        row("connected since", local_time(*since) + " (" + relative_time(*since, now) + ")");
    }
    if (auto seen = get_int(a, "last_seen_ms")) {
        row("last seen", relative_time(*seen, now));
    } else {
        row("last seen", "never");
    }
    const auto work = get_strings(a, "work");
    row("work", work.empty() ? "idle" : joined(work));
    std::string out = format_table(rows);
    const json::value* messages = member(a, "messages");
    if (messages != nullptr && messages->is_array() && !messages->get_array().empty()) {
        out += "messages to the owner:\n";
        for (const json::value& m : messages->get_array()) {
            const auto created = get_int(m, "created_ms").value_or(0);
            const auto delivered = get_int(m, "delivered_ms");
            out += "  #" + scalar_text(member(m, "id")) + " from " + get_string(m, "from") + ", " +
                   relative_time(created, now) + ", " +
                   (delivered ? "delivered " + relative_time(*delivered, now) : std::string("not yet delivered")) +
                   ": " + get_string(m, "text") + "\n";
        }
    }
    return out;
}

}  // namespace

int agent_admin_command(const ConnectionSettings& settings, const AgentAdminOptions& o) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        if (o.action == "list") {
            const json::value response = co_await api.get("/api/v1/agents");
            (void)write_all(1, o.json ? json::serialize(response) + "\n"
                                      : format_agent_table(parse_agent_list(response), now_ms()));
            co_return exit_ok;
        }
        const std::string path = agent_path(o.name);
        if (o.action == "show") {
            const json::value a = co_await api.get(path);
            (void)write_all(1, o.json ? json::serialize(a) + "\n" : show_text(a));
            co_return exit_ok;
        }
        json::object body;
        std::string done;
        std::string action = o.action;
        if (o.action == "approve") {
            done = "approved " + o.name + ": it takes work now";
        } else if (o.action == "drain") {
            done = "draining " + o.name + ": running work finishes, nothing new starts (remsh agent resume to undo)";
        } else if (o.action == "resume") {
            done = o.name + " takes new work again";
        } else if (o.action == "revoke") {
            done = "revoked " + o.name + ": disconnected; its credentials never work again";
        } else if (o.action == "rename") {
            body["name"] = o.argument;
            done = "renamed " + o.name + " to " + o.argument;
        } else if (o.action == "label-add" || o.action == "label-remove") {
            json::array labels;
            for (const auto& l : o.labels) {
                labels.emplace_back(l);
            }
            body[o.action == "label-add" ? "add" : "remove"] = std::move(labels);
            action = "labels";
        } else if (o.action == "message") {
            body["text"] = o.argument;
            action = "messages";
        } else {
            throw CliError("bad-request", "unknown agent action " + o.action);
        }
        const json::value answer = co_await api.post(path + "/" + action, std::move(body));
        if (o.json) {
            (void)write_all(1, json::serialize(answer) + "\n");
        } else if (action == "labels") {
            (void)write_all(1, o.name + " labels: " + joined(get_strings(answer, "labels")) + "\n");
        } else if (action == "messages") {
            (void)write_all(1, "message #" + scalar_text(member(answer, "id")) + " for the owner of " + o.name +
                                   ": kept on the master until the agent acknowledges it\n");
        } else {
            (void)write_all(1, done + "\n");
        }
        co_return exit_ok;
    });
}

int token_list_command(const ConnectionSettings& settings, bool as_json) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        const json::value response = co_await api.get("/api/v1/tokens");
        if (as_json) {
            (void)write_all(1, json::serialize(response) + "\n");
            co_return exit_ok;
        }
        const std::int64_t now = now_ms();
        std::vector<TableRow> rows;
        rows.push_back({"ID", "USES-LEFT", "EXPIRES", "LABELS", "APPROVAL", "CREATED"});
        const json::value* list = member(response, "tokens");
        if (list != nullptr && list->is_array()) {
            for (const json::value& t : list->get_array()) {
                const auto expires = get_int(t, "expires_ms");
                const json::value* approve = member(t, "approve");
                rows.push_back({get_string(t, "id"), scalar_text(member(t, "uses_left")),
                                expires ? (*expires <= now ? "expired" : local_time(*expires)) : "never",
                                joined(get_strings(t, "labels"), ","),
                                approve != nullptr && approve->is_bool() && approve->get_bool() ? "needed" : "-",
                                relative_time(get_int(t, "created_ms").value_or(0), now)});
            }
        }
        (void)write_all(1, format_table(rows));
        co_return exit_ok;
    });
}

namespace {

// DELETE /api/v1/COLLECTION/ID, then `done` on stdout.
int delete_by_id(const ConnectionSettings& settings, const std::string& collection, const std::string& id,
                 const std::string& done) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        if (id.empty() || id.find_first_of("/?#% ") != std::string::npos) {
            throw CliError("bad-request", "not a token id: '" + id + "'");
        }
        (void)co_await api.del("/api/v1/" + collection + "/" + id);
        (void)write_all(1, done + "\n");
        co_return exit_ok;
    });
}

}  // namespace

int token_delete_command(const ConnectionSettings& settings, const std::string& id) {
    return delete_by_id(settings, "tokens", id, "deleted token " + id + ": agents can no longer enroll with it");
}

int apitoken_create_command(const ConnectionSettings& settings, const std::string& role) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        json::object request;  // (GCC 12 rejects a braced json::object inside a coroutine)
        request["role"] = role;
        const json::value answer = co_await api.post("/api/v1/apitokens", std::move(request));
        const std::string token = get_string(answer, "token");
        if (token.empty()) {
            throw CliError("bad-response", "the master's answer holds no token");
        }
        (void)write_all(1, "API token " + get_string(answer, "id") + " with the " + role +
                               " role (shown once; the master keeps only its hash):\n" + token + "\n");
        co_return exit_ok;
    });
}

int apitoken_list_command(const ConnectionSettings& settings, bool as_json) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        const json::value response = co_await api.get("/api/v1/apitokens");
        if (as_json) {
            (void)write_all(1, json::serialize(response) + "\n");
            co_return exit_ok;
        }
        const std::int64_t now = now_ms();
        std::vector<TableRow> rows;
        rows.push_back({"ID", "ROLE", "CREATED"});
        if (const json::value* list = member(response, "tokens"); list != nullptr && list->is_array()) {
            for (const json::value& t : list->get_array()) {
                rows.push_back({get_string(t, "id"), get_string(t, "role"),
                                relative_time(get_int(t, "created_ms").value_or(0), now)});
            }
        }
        (void)write_all(1, format_table(rows));
        co_return exit_ok;
    });
}

int apitoken_delete_command(const ConnectionSettings& settings, const std::string& id) {
    return delete_by_id(settings, "apitokens", id, "deleted API token " + id + ": it no longer works");
}

int master_shutdown_command(const ConnectionSettings& settings, bool graceful, std::optional<std::int64_t> deadline_s) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        json::object request;
        request["graceful"] = graceful;
        if (deadline_s) {
            request["deadline_s"] = *deadline_s;
        }
        const json::value answer = co_await api.post("/api/v1/master/shutdown", std::move(request));
        const auto running = get_int(answer, "running_jobs").value_or(0);
        (void)write_all(1, graceful && running > 0
                               ? "the master starts no new job and stops once its " + std::to_string(running) +
                                     " running job(s) end; queued jobs wait for its restart\n"
                               : std::string("the master is stopping\n"));
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
