#include "daemon/job_routes.hpp"

#include "daemon/recipe.hpp"

namespace remsh::master {

namespace json = boost::json;

namespace {

constexpr unsigned kBadRequest = 400, kNotFound = 404, kConflict = 409;

json::value opt(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt(const std::optional<std::string>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::object job_json(Storage& db, const JobRecord& j, bool with_steps) {
  json::object o{{"id", j.id},           {"name", j.name},
                 {"state", j.state},     {"priority", j.priority},
                 {"agent", opt(j.agent)}, {"submitted_by", j.submitted_by},
                 {"submitted_ms", j.submitted_ms}, {"started_ms", opt(j.started_ms)},
                 {"finished_ms", opt(j.finished_ms)}, {"reason", opt(j.reason)},
                 {"attempts", j.attempts}};
  if (with_steps) {
    json::array steps;
    for (const JobStepRecord& s : db.job_steps(j.id)) {
      steps.push_back(json::object{{"index", s.index},           {"name", s.name},
                                   {"state", s.state},           {"command_id", opt(s.command_id)},
                                   {"exit_code", opt(s.exit_code)}, {"started_ms", opt(s.started_ms)},
                                   {"finished_ms", opt(s.finished_ms)}});
    }
    o["steps"] = std::move(steps);
    o["recipe"] = j.recipe;
    // The job's environment (the recipe's env), for a debug shell in its image (`remsh shell --job`).
    json::object env;
    auto parsed = parse_recipe(j.recipe);
    if (auto* recipe = std::get_if<Recipe>(&parsed)) {
      for (const auto& [k, v] : recipe->env) env[k] = v;
    }
    o["env"] = std::move(env);
  }
  return o;
}

}  // namespace

std::optional<json::object> handle_job_route(StateDir& state, JobScheduler& jobs, const AdminRequest& r,
                                            const std::function<void()>& shutdown) {
  Storage& db = state.storage();
  if (r.path == "/api/v1/master/shutdown" && r.method == "POST") {
    const json::value* graceful = r.body ? r.body->if_contains("graceful") : nullptr;
    const json::value* deadline = r.body ? r.body->if_contains("deadline_s") : nullptr;
    if ((graceful && !graceful->is_bool()) || (deadline && !(deadline->is_int64() && deadline->get_int64() > 0))) {
      throw ApiError{kBadRequest, "bad-request", "\"graceful\" is a bool, \"deadline_s\" a positive integer"};
    }
    const std::size_t running = jobs.running();
    if (graceful && graceful->get_bool()) {
      jobs.finish_then(std::chrono::seconds(deadline ? deadline->get_int64() : 1800), shutdown);
    } else {
      shutdown();
    }
    return json::object{{"stopping", true}, {"running_jobs", running}};
  }
  if (r.path == "/api/v1/jobs" && r.method == "POST") {
    const json::value* text = r.body ? r.body->if_contains("recipe") : nullptr;
    if (!text || !text->is_string()) throw ApiError{kBadRequest, "bad-request", "\"recipe\" (the YAML text) is required"};
    const std::string yaml(text->get_string());
    auto parsed = parse_recipe(yaml);
    if (auto* error = std::get_if<std::string>(&parsed)) throw ApiError{kBadRequest, "bad-recipe", *error};
    const Recipe& recipe = std::get<Recipe>(parsed);
    JobRecord job;
    job.name = recipe.name;
    job.recipe = yaml;
    job.priority = recipe.priority;
    job.submitted_by = r.caller;
    job.submitted_ms = now_ms();
    std::vector<std::string> names;
    for (const auto& s : recipe.steps) names.push_back(s.name);
    const std::int64_t id = db.create_job(job, names);
    jobs.poke();
    return json::object{{"id", id}, {"name", recipe.name}, {"state", "queued"}};
  }
  if (r.path == "/api/v1/jobs" && r.method == "GET") {
    json::array list;
    for (const auto& j : db.list_jobs(1000)) list.push_back(job_json(db, j, false));
    return json::object{{"jobs", std::move(list)}};
  }
  const std::string prefix = "/api/v1/jobs/";
  if (r.path.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = r.path.substr(prefix.size());
  const auto slash = rest.find('/');
  const auto id = parse_id(rest.substr(0, slash));
  if (!id) throw ApiError{kNotFound, "not-found", "no job " + rest.substr(0, slash)};
  auto job = db.get_job(*id);
  if (!job) throw ApiError{kNotFound, "not-found", "no job " + std::to_string(*id)};
  if (slash == std::string::npos && r.method == "GET") return job_json(db, *job, true);
  if (rest.substr(slash + 1) == "cancel" && r.method == "POST") {
    if (!jobs.cancel(*id)) {
      throw ApiError{kConflict, "job-finished", "job " + std::to_string(*id) + " already ended " + job->state};
    }
    return job_json(db, *db.get_job(*id), true);
  }
  return std::nullopt;
}

}  // namespace remsh::master
