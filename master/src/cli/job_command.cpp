// `remsh job submit|list|show|cancel|logs`: jobs run by the master's step logic. A job's logs
// are its steps' commands' logs, shown one step after the other.
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"
#include "text_table.hpp"
#include "time_format.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace remsh::cli {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

bool finished_state(const std::string& state) { return state != "queued" && state != "running"; }

net::awaitable<void> pause_ms(int ms) {
    net::steady_timer timer(co_await net::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(ms));
    co_await timer.async_wait(net::use_awaitable);
}

std::string duration_text(const json::value& j) {
    const auto started = get_int(j, "started_ms");
    if (!started) {
        return "-";
    }
    const auto finished = get_int(j, "finished_ms");
    const double s = static_cast<double>(finished.value_or(now_ms()) - *started) / 1000.0;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", s);
    return buf;
}

// What a checkout step put where (the job's source stamp), e.g. ", abc123def456: 1 file sent,
// 2162 bytes, 0 removed"; "" for other steps.
std::string source_summary(const json::value& job, std::int64_t step) {
    const json::value* sources = member(job, "sources");
    if (!sources || !sources->is_array()) {
        return "";
    }
    for (const json::value& s : sources->get_array()) {
        if (get_int(s, "step") != step) {
            continue;
        }
        const std::string commit = get_string(s, "commit").substr(0, 12);
        const auto files = get_int(s, "files_sent").value_or(0);
        return ", " + commit + ": " + std::to_string(files) + (files == 1 ? " file" : " files") + " sent, " +
               std::to_string(get_int(s, "bytes_sent").value_or(0)) + " bytes, " +
               std::to_string(get_int(s, "deleted").value_or(0)) + " removed";
    }
    return "";
}

// Prints the steps' output in order; with follow, until the job ends. Returns the job.
net::awaitable<json::value> print_logs(ApiClient& api, const std::string& id, bool follow, std::optional<int> only) {
    std::size_t next = 0;  // the next step to print
    bool said_waiting = false;
    for (;;) {
        json::value job = co_await api.get(job_api_path(id));
        if (const std::string waiting = get_string(job, "waiting_for"); follow && !waiting.empty() && !said_waiting) {
            (void)write_all(2, "job " + id + " waits for " + waiting + " (remsh agents)\n");
            said_waiting = true;
        }
        const json::value* steps = member(job, "steps");
        const std::size_t count = steps && steps->is_array() ? steps->get_array().size() : 0;
        if (only && (*only < 0 || static_cast<std::size_t>(*only) >= count)) {
            throw CliError("not-found", "job " + id + " has no step " + std::to_string(*only) + " (its steps are 0 to " +
                                            std::to_string(static_cast<long long>(count) - 1) + ")");
        }
        while (next < count) {
            const json::value& step = steps->get_array()[next];
            const std::string state = get_string(step, "state");
            const auto command = get_int(step, "command_id");
            if (state == "pending" && follow && !finished_state(get_string(job, "state"))) {
                break;  // not started yet: look again
            }
            if (!only || *only == static_cast<int>(next)) {
                // A step that never ran gets no name: its name is often its command line,
                // which should not look as if it had run. A step without a command (a
                // transfer, a snapshot checkout) says how it ended, and what it sent.
                const bool ran = state != "pending" && state != "skipped";
                std::string line = "==> step " + std::to_string(next) + (ran ? ": " + get_string(step, "name") : " " + state);
                if (ran && !command) {
                    line += " (" + state + source_summary(job, static_cast<std::int64_t>(next)) + ")";
                }
                (void)write_all(2, line + "\n");
                if (command) {
                    LogsOptions log;
                    log.id = std::to_string(*command);
                    log.follow = follow;
                    (void)co_await show_command_log(api, log);
                }
            }
            ++next;
            if (follow) {
                // The step's record changes once its command ends: read the job again.
                job = co_await api.get(job_api_path(id));
                steps = member(job, "steps");
            }
        }
        if (!follow || (next >= count && finished_state(get_string(job, "state")))) {
            co_return job;
        }
        co_await pause_ms(200);
    }
}

int job_exit_code(const json::value& job) { return get_string(job, "state") == "success" ? exit_ok : exit_job_failed; }

void print_outcome(const std::string& id, const json::value& job) {
    const std::string reason = get_string(job, "reason");
    const std::string agent = get_string(job, "agent");
    // A job that never started (cancelled in the queue) has neither a duration nor an agent.
    const std::string where = !get_int(job, "started_ms") ? ""
                              : " (" + duration_text(job) + (agent.empty() ? "" : " on " + agent) + ")";
    (void)write_all(2, "job " + id + " " + get_string(job, "state") + (reason.empty() ? "" : ": " + reason) + where +
                           "\n");
}

}  // namespace

std::string job_api_path(const std::string& id) {
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
        throw CliError("bad-request", "a job id is a number (see remsh job list)");
    }
    return "/api/v1/jobs/" + id;
}

// The recipe's text: FILE, or standard input for "-".
std::string read_recipe_file(const std::string& file) {
    std::ostringstream text;
    if (file == "-") {
        text << std::cin.rdbuf();
        if (std::cin.bad()) {
            throw CliError("input-error", "cannot read the recipe from standard input");
        }
        return text.str();
    }
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        throw CliError("is-a-directory", file + " is a directory, not a recipe file");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw CliError(std::filesystem::exists(file, ec) ? "permission-denied" : "not-found",
                       "cannot read " + file + ": " + std::strerror(errno));
    }
    text << in.rdbuf();
    if (in.bad()) {
        throw CliError("io-error", "cannot read " + file + ": " + std::strerror(errno));
    }
    return text.str();
}

int job_command(const ConnectionSettings& settings, const JobOptions& o) {
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        if (o.action == "submit") {
            json::object request;
            request["recipe"] = read_recipe_file(o.file);
            const json::value answer = co_await api.post("/api/v1/jobs", std::move(request));
            // One job, or a pipeline's jobs (each after the jobs it needs).
            std::vector<std::pair<std::string, std::string>> queued;  // id, name
            if (const json::value* jobs = member(answer, "jobs"); jobs && jobs->is_array()) {
                for (const json::value& j : jobs->get_array()) {
                    queued.emplace_back(scalar_text(member(j, "id")), get_string(j, "name"));
                }
            } else {
                queued.emplace_back(scalar_text(member(answer, "id")), get_string(answer, "name"));
            }
            for (const auto& [id, name] : queued) {
                if (!o.wait) {
                    (void)write_all(1, id + "\n");
                }
                (void)write_all(2, "job " + id + " (" + name + ") queued" +
                                       (o.wait ? "" : "; follow it with: remsh job logs -f " + id) + "\n");
            }
            if (!o.wait) {
                co_return exit_ok;
            }
            int code = exit_ok;
            for (const auto& [id, name] : queued) {
                if (queued.size() > 1) {
                    (void)write_all(2, "==> job " + id + " (" + name + ")\n");
                }
                const json::value job = co_await print_logs(api, id, true, std::nullopt);
                print_outcome(id, job);
                if (job_exit_code(job) != exit_ok) {
                    code = job_exit_code(job);
                }
            }
            co_return code;
        }
        if (o.action == "list") {
            const json::value response = co_await api.get("/api/v1/jobs");
            if (o.json) {
                (void)write_all(1, json::serialize(response) + "\n");
                co_return exit_ok;
            }
            std::vector<TableRow> rows;
            rows.push_back({"ID", "NAME", "STATE", "AGENT", "SUBMITTED", "DURATION"});
            const json::value* list = member(response, "jobs");
            if (list && list->is_array()) {
                for (const json::value& j : list->get_array()) {
                    const std::string agent = get_string(j, "agent");
                    rows.push_back({scalar_text(member(j, "id")), get_string(j, "name"), get_string(j, "state"),
                                    agent.empty() ? "-" : agent, local_time(get_int(j, "submitted_ms").value_or(0)),
                                    duration_text(j)});
                }
            }
            (void)write_all(1, format_table(rows));
            co_return exit_ok;
        }
        if (o.action == "show") {
            const json::value job = co_await api.get(job_api_path(o.id));
            if (o.json) {
                (void)write_all(1, json::serialize(job) + "\n");
                co_return exit_ok;
            }
            const std::string reason = get_string(job, "reason");
            std::string out = "job " + o.id + ": " + get_string(job, "name") + "\nstate: " + get_string(job, "state") +
                              (reason.empty() || reason == get_string(job, "state") ? "" : " (" + reason + ")") +
                              (get_string(job, "waiting_for").empty() ? "" : " (waits for " + get_string(job, "waiting_for") + ")") +
                              "\nagent: " + get_string(job, "agent") +
                              "\nsubmitted by: " + get_string(job, "submitted_by") + "\nduration: " + duration_text(job) + "\n";
            if (const std::string dir = get_string(job, "work_dir"); !dir.empty()) {
                out += "work dir: " + dir + "\n";
            }
            if (const json::value* needs = member(job, "needs"); needs && needs->is_array() && !needs->get_array().empty()) {
                std::string list;
                for (const json::value& n : needs->get_array()) {
                    list += (list.empty() ? "" : ", ") + scalar_text(&n);
                }
                out += "needs jobs: " + list + "\n";
            }
            if (const auto until = get_int(job, "debug_until_ms")) {
                out += "kept for debugging until " + local_time(*until) + ": remsh shell --job " + o.id +
                       " (remsh job release " + o.id + " ends it)\n";
            }
            if (const json::value* artifacts = member(job, "artifacts"); artifacts && artifacts->is_array()) {
                for (const json::value& a : artifacts->get_array()) {
                    out += "artifact: " + get_string(a, "name") + " (" + scalar_text(member(a, "entries")) + " entries, " +
                           scalar_text(member(a, "bytes")) + " bytes; remsh artifact get " + o.id + " " +
                           get_string(a, "name") + ")\n";
                }
            }
            std::vector<TableRow> rows;
            rows.push_back({"STEP", "NAME", "STATE", "EXIT", "COMMAND", "DURATION"});
            const json::value* steps = member(job, "steps");
            if (steps && steps->is_array()) {
                for (const json::value& s : steps->get_array()) {
                    const auto command = get_int(s, "command_id");
                    rows.push_back({scalar_text(member(s, "index")), get_string(s, "name"), get_string(s, "state"),
                                    scalar_text(member(s, "exit_code")), command ? std::to_string(*command) : "-",
                                    duration_text(s)});
                }
            }
            (void)write_all(1, out + format_table(rows));
            co_return exit_ok;
        }
        if (o.action == "release") {
            (void)co_await api.post(job_api_path(o.id) + "/release", json::object{});
            (void)write_all(1, "job " + o.id + " released: its agent slot is free again\n");
            co_return exit_ok;
        }
        if (o.action == "cancel") {
            json::value job = co_await api.post(job_api_path(o.id) + "/cancel", json::object{});
            // A running job ends once its step is killed and its always: steps ran: say what
            // happened, not what was asked for (10 s at most).
            for (int i = 0; i < 50 && get_string(job, "state") == "running"; ++i) {
                co_await pause_ms(200);
                job = co_await api.get(job_api_path(o.id));
            }
            const std::string state = get_string(job, "state");
            (void)write_all(1, state == "running"
                                   ? "job " + o.id + ": cancel requested; still running after 10 s (its always: steps, "
                                                     "or a step its agent has not ended yet: remsh job show " + o.id + ")\n"
                                   : "job " + o.id + " " + state + "\n");
            co_return exit_ok;
        }
        // logs
        const json::value job = co_await print_logs(api, o.id, o.follow, o.step);
        if (o.follow) {
            print_outcome(o.id, job);
            co_return job_exit_code(job);
        }
        co_return exit_ok;
    });
}

int resolve_shell_job(const ConnectionSettings& settings, const std::string& job_id, RunOptions& options) {
    return run_api_main(settings, [&](ApiClient& api) -> net::awaitable<int> {
        const json::value job = co_await api.get(job_api_path(job_id));
        const std::string agent = get_string(job, "agent");
        if (agent.empty()) {
            throw CliError("job-not-started", "job " + job_id + " has not run on an agent yet (" + get_string(job, "state") + ")");
        }
        options.agent = agent;
        const json::value* held = member(job, "debug_until_ms");
        if (get_string(job, "state") != "running" && (held == nullptr || held->is_null())) {
            // Still useful for a look, but no longer this job's alone: say so.
            (void)write_all(2, "remsh: note: job " + job_id + " (" + get_string(job, "state") +
                                   ") no longer holds its directory (released, or its debug hold ended): "
                                   "a later run of " + get_string(job, "name") + " may be using it\n");
        }
        // The job's directory (jobs/NAME in the agent's work dir); --cwd is taken inside it.
        if (const std::string dir = get_string(job, "work_dir"); !dir.empty()) {
            if (!options.cwd || options.cwd->empty()) {
                options.cwd = dir;
            } else if (options.cwd->front() != '/') {
                options.cwd = dir + "/" + *options.cwd;
            }
        }
        std::vector<std::pair<std::string, std::string>> env;
        if (const json::value* vars = member(job, "env"); vars && vars->is_object()) {
            for (const auto& kv : vars->get_object()) {
                if (kv.value().is_string()) {
                    env.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
                }
            }
        }
        env.insert(env.end(), options.env.begin(), options.env.end());
        options.env = std::move(env);
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
