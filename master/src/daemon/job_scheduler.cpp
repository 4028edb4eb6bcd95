#include "daemon/job_scheduler.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <utility>
#include <iostream>

#include "daemon/agent_availability.hpp"
#include "daemon/command_run.hpp"
#include "daemon/output_watcher.hpp"

namespace remsh::master {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

void log_line(const std::string& text) { std::cerr << "remsh-master: " << text << std::endl; }

// Waits for one step's command: the run's watcher, which only remembers how it ended.
class StepWatcher : public OutputWatcher {
 public:
  explicit StepWatcher(asio::any_io_executor executor) : done(executor) {}
  void on_started(std::int64_t) override {}
  void on_output(OutputChunk, std::function<void()> taken) override { taken(); }
  void on_finished(const json::object& record) override {
    result = record;
    finished = true;
    done.notify();
  }
  void on_error(const std::string& tag, const std::string& message) override {
    result = json::object{{"state", "failed"}, {"error", json::object{{"tag", tag}, {"message", message}}}};
    finished = true;
    done.notify();
  }
  Notifier done;
  bool finished = false;
  json::object result;
};

// How a step ended, from its command's record.
std::string step_state(const json::object& r) {
  const std::string state = r.contains("state") && r.at("state").is_string() ? std::string(r.at("state").get_string()) : "failed";
  const json::value* error = r.if_contains("error");
  const bool timed_out = error && error->is_object() && error->get_object().contains("tag") &&
                         error->get_object().at("tag") == json::value("timeout");
  if (state == "lost") return "lost";
  if (state == "cancelled") return "cancelled";
  if (timed_out) return "timed-out";
  if (state == "finished" && r.contains("exit_code") && r.at("exit_code") == json::value(0)) return "success";
  return "failure";
}

}  // namespace

struct JobScheduler::RunningJob {
  RunningJob(JobRecord r, Recipe rc, std::shared_ptr<AgentLink> l, asio::any_io_executor ex)
      : record(std::move(r)), recipe(std::move(rc)), link(std::move(l)), deadline(ex) {}
  JobRecord record;
  Recipe recipe;
  std::shared_ptr<AgentLink> link;
  std::string agent;
  std::shared_ptr<CommandRun> step_run;  // the step running now
  asio::steady_timer deadline;
  bool cancelled = false;
  bool timed_out = false;

  // Ends the running step's process tree (cancel, job timeout).
  void kill_step() {
    if (step_run && !step_run->finished()) step_run->send_signal("KILL");
  }
};

JobScheduler::JobScheduler(asio::io_context& io, StateDir& state, AgentHub& hub)
    : io_(io), state_(state), hub_(hub), wake_(io.get_executor()), finish_deadline_(io) {}

void JobScheduler::finish_then(std::chrono::seconds deadline, std::function<void()> done) {
  finishing_ = true;
  on_finished_ = std::move(done);
  log_line("graceful shutdown: starting no new job; waiting for " + std::to_string(running_.size()) +
           " running job(s), at most " + std::to_string(deadline.count()) + " s");
  finish_deadline_.expires_after(deadline);
  finish_deadline_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log_line("graceful shutdown: the deadline passed with " + std::to_string(running_.size()) + " job(s) running");
    if (auto finished = std::exchange(on_finished_, nullptr)) finished();
  });
  maybe_finished();
}

void JobScheduler::maybe_finished() {
  if (!finishing_ || !running_.empty()) return;
  finish_deadline_.cancel();
  if (auto done = std::exchange(on_finished_, nullptr)) done();
}

void JobScheduler::stop() {
  stopping_ = true;
  wake_.notify();
}

asio::awaitable<void> JobScheduler::run() {
  asio::steady_timer tick(io_);
  while (!stopping_) {
    try {
      start_queued();
    } catch (const std::exception& e) {
      log_line(std::string("job scheduling: ") + e.what());
    }
    // Agents come and go without telling us: look again at least every half second.
    tick.expires_after(std::chrono::milliseconds(500));
    tick.async_wait([this](const boost::system::error_code&) { wake_.notify(); });
    co_await wake_.wait();
    tick.cancel();
  }
}

std::shared_ptr<AgentLink> JobScheduler::pick_agent(const std::vector<AgentRecord>& agents, const Recipe& recipe,
                                                     const std::vector<std::string>& avoid) {
  for (const AgentRecord& a : agents) {
    if (std::find(avoid.begin(), avoid.end(), a.name) != avoid.end()) continue;  // lost it there before
    auto link = hub_.find(a.name);
    if (work_refusal(a, link)) continue;
    const AgentFacts facts = read_agent_facts(a);
    const auto labels = all_labels(a, facts);
    const bool matches = std::all_of(recipe.labels.begin(), recipe.labels.end(), [&](const std::string& l) {
      return std::find(labels.begin(), labels.end(), l) != labels.end();
    });
    if (!matches) continue;
    // Slots: the owner's max_concurrent, else one job at a time.
    const auto busy = std::count_if(running_.begin(), running_.end(),
                                    [&](const auto& entry) { return entry.second->agent == a.name; });
    if (busy >= std::max<std::int64_t>(1, facts.max_concurrent.value_or(1))) continue;
    return link;
  }
  return nullptr;
}

void JobScheduler::start_queued() {
  if (finishing_) return;
  const std::vector<JobRecord> queued = state_.storage().queued_jobs();
  if (queued.empty()) return;
  const std::vector<AgentRecord> agents = state_.storage().list_agents();  // once per pass
  for (const JobRecord& job : queued) {
    if (stopping_) return;
    auto parsed = parse_recipe(job.recipe);
    if (auto* error = std::get_if<std::string>(&parsed)) {
      state_.storage().finish_job(job.id, "failure", "the stored recipe no longer parses: " + *error, now_ms());
      continue;
    }
    Recipe recipe = std::get<Recipe>(std::move(parsed));
    auto link = pick_agent(agents, recipe, job.avoid_agents);
    if (!link) continue;  // it waits; a later, smaller job may still find an agent
    state_.storage().start_job(job.id, link->name(), now_ms());
    auto running = std::make_shared<RunningJob>(job, std::move(recipe), link, io_.get_executor());
    running->agent = link->name();
    running_[job.id] = running;
    log_line("job " + std::to_string(job.id) + " (" + job.name + ") starts on " + link->name());
    asio::co_spawn(io_, run_job(running), [this, id = job.id](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log_line("job " + std::to_string(id) + ": " + ex.what());
          try {
            state_.storage().finish_job(id, "failure", std::string("internal error: ") + ex.what(), now_ms());
          } catch (const std::exception&) {
          }
        }
      }
      running_.erase(id);
      wake_.notify();  // its agent slot is free
      maybe_finished();
    });
  }
}

bool JobScheduler::cancel(std::int64_t id) {
  if (auto it = running_.find(id); it != running_.end()) {
    it->second->cancelled = true;
    it->second->kill_step();
    return true;
  }
  auto job = state_.storage().get_job(id);
  if (!job || job->state != "queued") return false;
  for (JobStepRecord step : state_.storage().job_steps(id)) {
    step.state = "skipped";
    state_.storage().update_job_step(step);
  }
  state_.storage().finish_job(id, "cancelled", "cancelled before it started", now_ms());
  return true;
}

asio::awaitable<void> JobScheduler::run_job(std::shared_ptr<RunningJob> job) {
  Storage& db = state_.storage();
  const std::int64_t id = job->record.id;
  if (job->recipe.timeout_s) {
    job->deadline.expires_after(std::chrono::seconds(*job->recipe.timeout_s));
    job->deadline.async_wait([job](const boost::system::error_code& ec) {
      if (ec) return;
      job->timed_out = true;
      job->kill_step();
    });
  }
  std::vector<JobStepRecord> steps = db.job_steps(id);
  bool halted = false;  // a step failed (without continue_on_error)
  bool lost = false;
  std::string reason;
  for (std::size_t i = 0; i < job->recipe.steps.size() && i < steps.size(); ++i) {
    const RecipeStep& step = job->recipe.steps[i];
    JobStepRecord& record = steps[i];
    // After a failure, a timeout or a cancel only always: steps run; with the agent gone
    // (its session ended for good), none can.
    if (lost || ((halted || job->cancelled || job->timed_out) && !step.always)) {
      record.state = "skipped";
      db.update_job_step(record);
      continue;
    }
    protocol::ExecRequest request;
    request.shell = step.run;
    for (const auto& [k, v] : job->recipe.env) request.env[k] = v;
    for (const auto& [k, v] : step.env) request.env[k] = v;
    request.cwd = step.cwd;
    if (step.timeout_s) request.timeout_s = static_cast<std::uint64_t>(*step.timeout_s);
    if (step.no_output_timeout_s) request.no_output_timeout_s = static_cast<std::uint64_t>(*step.no_output_timeout_s);

    const std::int64_t command_id = db.create_command(job->agent, json::serialize(json::value(step.run)), step.cwd, now_ms());
    auto run = std::make_shared<CommandRun>(command_id, db, job->link);
    auto watcher = std::make_shared<StepWatcher>(io_.get_executor());
    run->watch(watcher);
    record.state = "running";
    record.command_id = command_id;
    record.started_ms = now_ms();
    db.update_job_step(record);
    job->step_run = run;
    if (!job->link->online() || !job->link->start(request.to_json(), run)) {
      db.finish_command(command_id,
                        CommandFinish::failed("agent-offline", "agent " + job->agent + " is not connected", now_ms()));
      record.state = "lost";
      record.finished_ms = now_ms();
      db.update_job_step(record);
      lost = true;
      reason = "agent " + job->agent + " went away";
      continue;
    }
    while (!watcher->finished) co_await watcher->done.wait();
    job->step_run.reset();
    record.state = step_state(watcher->result);
    if (const json::value* code = watcher->result.if_contains("exit_code"); code && code->is_int64()) {
      record.exit_code = code->get_int64();
    }
    if (job->cancelled && record.state != "success") record.state = "cancelled";
    record.finished_ms = now_ms();
    db.update_job_step(record);
    if (record.state == "lost") {
      lost = true;
      reason = "agent " + job->agent + " went away during step " + std::to_string(i);
    } else if (record.state != "success" && !step.continue_on_error && !halted) {
      halted = true;
      reason = "step " + std::to_string(i) + " (" + step.name + ") ended " + record.state +
               (record.exit_code ? " with exit code " + std::to_string(*record.exit_code) : "");
    }
  }
  job->deadline.cancel();
  std::string state = "success";
  if (job->cancelled) {
    state = "cancelled";
    reason = "cancelled";
  } else if (job->timed_out) {
    state = "timed-out";
    reason = "the job's timeout expired";
  } else if (lost) {
    state = "lost";
  } else if (halted) {
    state = "failure";
  }
  if (state == "lost" && job->record.attempts < job->recipe.retries) {
    const std::string why = "attempt " + std::to_string(job->record.attempts + 1) + " lost: " + reason + "; retried elsewhere";
    db.requeue_job(id, why);
    log_line("job " + std::to_string(id) + " (" + job->record.name + "): " + why);
    co_return;
  }
  db.finish_job(id, state, reason.empty() ? std::nullopt : std::optional<std::string>(reason), now_ms());
  log_line("job " + std::to_string(id) + " (" + job->record.name + ") ended " + state);
}

}  // namespace remsh::master
