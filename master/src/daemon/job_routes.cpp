#include "daemon/job_routes.hpp"

#include "daemon/agent_availability.hpp"
#include "daemon/recipe.hpp"

#include <algorithm>
#include <map>

namespace remsh::master {

namespace json = boost::json;

namespace {

constexpr unsigned kBadRequest = 400, kNotFound = 404, kConflict = 409;

json::value opt(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt(const std::optional<std::string>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::object artifact_json(const ArtifactRecord& a) {
  return json::object{{"name", a.name},       {"size", a.size},   {"sha256", a.sha256},
                      {"entries", a.entries}, {"bytes", a.bytes}, {"created_ms", a.created_ms}};
}

json::object job_json(Storage& db, const JobRecord& j, bool with_steps) {
  json::object o{{"id", j.id},           {"name", j.name},
                 {"state", j.state},     {"priority", j.priority},
                 {"agent", opt(j.agent)}, {"submitted_by", j.submitted_by},
                 {"submitted_ms", j.submitted_ms}, {"started_ms", opt(j.started_ms)},
                 {"finished_ms", opt(j.finished_ms)}, {"reason", opt(j.reason)},
                 {"attempts", j.attempts}, {"pipeline", opt(j.pipeline)},
                 {"work_dir", opt(j.work_dir)}, {"debug_until_ms", opt(j.debug_until_ms)}};
  json::array needs;
  for (auto id : j.needs) needs.push_back(id);
  o["needs"] = std::move(needs);
  if (with_steps) {
    auto parsed = parse_recipe(j.recipe);
    const Recipe* recipe = std::get_if<Recipe>(&parsed);
    if (recipe && j.state == "queued") {
      // A queued job says so when no agent could ever take it as things stand: its labels
      // match none (a typo, or the agent is not enrolled yet). Busy or offline agents do come back.
      const std::vector<AgentRecord> agents = db.list_agents();
      const bool someone = std::any_of(agents.begin(), agents.end(), [&](const AgentRecord& a) {
        return !a.revoked && has_labels(a, read_agent_facts(a), recipe->labels);
      });
      if (!someone) {
        std::string wanted;
        for (const std::string& l : recipe->labels) wanted += (wanted.empty() ? "" : ", ") + l;
        o["waiting_for"] = recipe->labels.empty() ? std::string("an agent: none is enrolled")
                                                  : "an agent with the labels " + wanted + ": none has them";
      }
    }
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
    if (recipe) {
      for (const auto& [k, v] : recipe->env) env[k] = v;
    }
    o["env"] = std::move(env);  // not its secrets: whoever may read a job may not read those
    json::array artifacts;
    for (const ArtifactRecord& a : db.job_artifacts(j.id)) artifacts.push_back(artifact_json(a));
    o["artifacts"] = std::move(artifacts);
    // Its source stamp: the commit each checkout step put where, and what that cost.
    json::array sources;
    for (const JobSourceRecord& s : db.job_sources(j.id)) {
      sources.push_back(json::object{{"step", s.step},          {"repo", s.repo},           {"ref", s.ref},
                                     {"commit", s.commit},      {"dir", s.dir},             {"full", s.full},
                                     {"files_sent", s.files_sent}, {"bytes_sent", s.bytes_sent}, {"deleted", s.deleted}});
    }
    o["sources"] = std::move(sources);
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
    auto parsed = parse_submission(yaml);
    if (auto* error = std::get_if<std::string>(&parsed)) throw ApiError{kBadRequest, "bad-recipe", *error};
    const auto& submitted = std::get<std::vector<SubmittedJob>>(parsed);
    // A secret or repository that is missing now would fail the job later: say so while the
    // user is here.
    for (const SubmittedJob& s : submitted) {
      for (const RecipeStep& step : s.recipe.steps) {
        if (step.kind == RecipeStep::Kind::checkout && !db.get_repo(step.repo)) {
          throw ApiError{kBadRequest, "unknown-repo",
                         "job " + s.recipe.name + " checks out " + step.repo + ", which the master does not know (remsh repo add " +
                             step.repo + " URL)"};
        }
      }
      for (const std::string& name : s.recipe.secrets) {
        if (!db.get_secret(name)) {
          throw ApiError{kBadRequest, "unknown-secret",
                         "job " + s.recipe.name + " uses secret " + name + ", which the master's secret store lacks (remsh secret set " + name + ")"};
        }
      }
    }
    json::array created;
    std::map<std::string, std::int64_t> ids;  // by job name, for needs:
    std::optional<std::int64_t> pipeline;
    db.in_transaction([&] {
      for (const SubmittedJob& s : submitted) {
        JobRecord job{};
        job.name = s.recipe.name;
        job.recipe = s.text;
        job.priority = s.recipe.priority;
        job.submitted_by = r.caller;
        job.submitted_ms = now_ms();
        if (submitted.size() > 1) job.pipeline = pipeline;
        for (const std::string& need : s.recipe.needs) job.needs.push_back(ids.at(need));
        std::vector<std::string> names;
        for (const auto& step : s.recipe.steps) names.push_back(step.name);
        const std::int64_t id = db.create_job(job, names);
        if (!pipeline) {
          pipeline = id;
          if (submitted.size() > 1) db.set_job_pipeline(id, id);
        }
        ids[s.recipe.name] = id;
        created.push_back(json::object{{"id", id}, {"name", s.recipe.name}, {"state", "queued"}});
      }
    });
    jobs.poke();
    json::object answer = created.front().as_object();
    answer["jobs"] = std::move(created);
    return answer;
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
  const std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (sub == "artifacts" && r.method == "GET") {
    json::array list;
    for (const ArtifactRecord& a : db.job_artifacts(*id)) list.push_back(artifact_json(a));
    return json::object{{"artifacts", std::move(list)}};
  }
  if (sub == "release" && r.method == "POST") {
    if (!jobs.release(*id)) {
      throw ApiError{kConflict, "not-held", "job " + std::to_string(*id) + " holds no work dir for debugging"};
    }
    return job_json(db, *db.get_job(*id), true);
  }
  if (sub == "cancel" && r.method == "POST") {
    if (!jobs.cancel(*id)) {
      throw ApiError{kConflict, "job-finished", "job " + std::to_string(*id) + " already ended " + job->state};
    }
    return job_json(db, *db.get_job(*id), true);
  }
  return std::nullopt;
}

}  // namespace remsh::master
