#include "daemon/job_scheduler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <deque>
#include <iostream>
#include <set>
#include <utility>

#include "daemon/agent_availability.hpp"
#include "daemon/agent_fs_call.hpp"
#include "daemon/checkout_step.hpp"
#include "daemon/command_run.hpp"
#include "daemon/output_watcher.hpp"
#include "daemon/secret_masker.hpp"
#include "local_tree.hpp"
#include "remsh/protocol/utf8.hpp"
#include "remsh/vcs/git_plan.hpp"
#include "shell_quote.hpp"

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
  const json::value* tag = error && error->is_object() ? error->get_object().if_contains("tag") : nullptr;
  const bool timed_out = tag && *tag == json::value("timeout");
  // A command whose agent went away before it even started is lost as well, not failed.
  if (state == "lost" || (tag && *tag == json::value("agent-lost"))) return "lost";
  if (state == "cancelled") return "cancelled";
  if (timed_out) return "timed-out";
  if (state == "finished" && r.contains("exit_code") && r.at("exit_code") == json::value(0)) return "success";
  return "failure";
}

// A path of the recipe, relative to the job's work dir (an absolute one is the agent's to judge).
std::string in_work_dir(const std::string& work_dir, const std::string& path) {
  if (path.empty() || path == ".") return work_dir;
  if (path.front() == '/') return path;
  return work_dir + "/" + path;
}

// A job's name as a directory name: letters, digits, '.', '_' and '-' kept, the rest '_'.
std::string directory_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
    out += keep ? c : '_';
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out.substr(0, 100);
}

}  // namespace

struct JobScheduler::StepEnd {
  std::string state;    // a step state: success, failure, cancelled, timed-out, lost
  std::string message;  // why it failed, for the job's reason
};

struct JobScheduler::RunningJob {
  RunningJob(JobRecord r, Recipe rc, std::shared_ptr<AgentLink> l, asio::any_io_executor ex)
      : record(std::move(r)), recipe(std::move(rc)), link(std::move(l)), deadline(ex), hold(ex) {}
  JobRecord record;
  Recipe recipe;
  std::shared_ptr<AgentLink> link;
  std::string agent;
  std::string work_dir;
  std::shared_ptr<CommandRun> step_run;     // the step running now: a command,
  std::shared_ptr<AgentFsCall> step_fs;     // or a transfer
  std::vector<std::string> secret_values;   // masked in every step's output
  std::map<std::string, std::string> secret_env;
  asio::steady_timer deadline;
  asio::steady_timer hold;  // debug_on_failure
  bool cancelled = false;
  bool timed_out = false;
  bool held = false;

  // Ends the running step (cancel, job timeout): a command's whole process tree, a transfer.
  void kill_step() {
    if (step_run && !step_run->finished()) step_run->send_signal("KILL");
    if (step_fs) step_fs->cancel(timed_out ? "timeout" : "cancelled", timed_out ? "the job's timeout expired" : "cancelled");
  }
};

// Records a job's file operation as its running step, so that kill_step() can abandon it.
FsCallTracker JobScheduler::tracker(RunningJob& job) {
  return [&job](std::shared_ptr<AgentFsCall> call) { job.step_fs = std::move(call); };
}

JobScheduler::JobScheduler(asio::io_context& io, StateDir& state, AgentHub& hub)
    : io_(io), state_(state), hub_(hub), wake_(io.get_executor()), finish_deadline_(io) {}

std::size_t JobScheduler::running() const {
  return static_cast<std::size_t>(
      std::count_if(running_.begin(), running_.end(), [](const auto& entry) { return !entry.second->held; }));
}

bool JobScheduler::release(std::int64_t id) {
  auto it = running_.find(id);
  if (it == running_.end() || !it->second->held) return false;
  it->second->hold.cancel();
  return true;
}

void JobScheduler::finish_then(std::chrono::seconds deadline, std::function<void()> done) {
  finishing_ = true;
  for (auto& [id, job] : running_) {
    if (job->held) job->hold.cancel();  // a debug hold does not outlive the master
  }
  on_finished_ = std::move(done);
  log_line("graceful shutdown: starting no new job; waiting for " + std::to_string(running()) +
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
  if (!finishing_ || running() != 0) return;
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
    if (!has_labels(a, facts, recipe.labels)) continue;
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
    std::string why;
    const Readiness readiness = needs_met(job, why);
    if (readiness == Readiness::waiting) continue;
    if (readiness == Readiness::blocked) {
      for (JobStepRecord step : state_.storage().job_steps(job.id)) {
        step.state = "skipped";
        state_.storage().update_job_step(step);
      }
      state_.storage().finish_job(job.id, "cancelled", why, now_ms());
      log_line("job " + std::to_string(job.id) + " (" + job.name + ") cancelled: " + why);
      wake_.notify();  // the jobs that need this one are decided on the next pass
      continue;
    }
    auto link = pick_agent(agents, recipe, job.avoid_agents);
    // A retry goes elsewhere when another agent can take it now; else back to where it was
    // lost (that agent restarted, or was only cut off): with a single agent it used to wait
    // for good.
    if (!link && !job.avoid_agents.empty()) link = pick_agent(agents, recipe, {});
    if (!link) continue;  // it waits; a later, smaller job may still find an agent
    const std::string work_dir = pick_work_dir(link->name(), job.name);
    state_.storage().start_job(job.id, link->name(), work_dir, now_ms());
    auto running = std::make_shared<RunningJob>(job, std::move(recipe), link, io_.get_executor());
    running->agent = link->name();
    running->work_dir = work_dir;
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

JobScheduler::Readiness JobScheduler::needs_met(const JobRecord& job, std::string& why) {
  bool waiting = false;
  for (const std::int64_t need : job.needs) {
    const auto other = state_.storage().get_job(need);
    if (!other) {
      why = "it needs job " + std::to_string(need) + ", which no longer exists";
      return Readiness::blocked;
    }
    if (other->state == "queued" || other->state == "running") {
      waiting = true;
    } else if (other->state != "success") {
      why = "it needs job " + std::to_string(need) + " (" + other->name + "), which ended " + other->state;
      return Readiness::blocked;
    }
  }
  return waiting ? Readiness::waiting : Readiness::ready;
}

std::string JobScheduler::pick_work_dir(const std::string& agent, const std::string& job_name) const {
  // jobs/NAME is kept from one run of NAME to the next (incremental builds); two runs of one
  // name at once on one agent get jobs/NAME-2, -3, ...
  const std::string base = "jobs/" + directory_name(job_name);
  for (int n = 1;; ++n) {
    const std::string dir = n == 1 ? base : base + "-" + std::to_string(n);
    const bool taken = std::any_of(running_.begin(), running_.end(), [&](const auto& entry) {
      return entry.second->agent == agent && entry.second->work_dir == dir;
    });
    if (!taken) return dir;
  }
}

bool JobScheduler::cancel(std::int64_t id) {
  if (auto it = running_.find(id); it != running_.end() && !it->second->held) {
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

std::optional<ArtifactRecord> JobScheduler::find_artifact(const JobRecord& job, const RecipeStep& step) {
  Storage& db = state_.storage();
  // This job first, then the jobs it needs, nearest first (breadth-first).
  std::deque<std::int64_t> todo{job.id};
  std::set<std::int64_t> seen;
  while (!todo.empty()) {
    const std::int64_t id = todo.front();
    todo.pop_front();
    if (!seen.insert(id).second) continue;
    const auto record = id == job.id ? std::optional<JobRecord>(job) : db.get_job(id);
    if (!record) continue;
    if (!step.job || (id != job.id && record->name == *step.job)) {
      for (const ArtifactRecord& a : db.job_artifacts(id)) {
        if (a.name == step.artifact) return a;
      }
    }
    for (const std::int64_t need : record->needs) todo.push_back(need);
  }
  return std::nullopt;
}

asio::awaitable<JobScheduler::StepEnd> JobScheduler::run_command_step(RunningJob& job, const RecipeStep& step,
                                                                      JobStepRecord& record) {
  Storage& db = state_.storage();
  protocol::ExecRequest request;
  request.shell = step.run;
  for (const auto& [k, v] : job.recipe.env) request.env[k] = v;
  for (const auto& [k, v] : job.secret_env) request.env[k] = v;
  for (const auto& [k, v] : step.env) request.env[k] = v;
  request.cwd = in_work_dir(job.work_dir, step.cwd.value_or("."));
  if (step.timeout_s) request.timeout_s = static_cast<std::uint64_t>(*step.timeout_s);
  if (step.no_output_timeout_s) request.no_output_timeout_s = static_cast<std::uint64_t>(*step.no_output_timeout_s);

  const std::int64_t command_id = db.create_command(job.agent, json::serialize(json::value(step.run)), request.cwd, now_ms());
  auto run = std::make_shared<CommandRun>(command_id, db, job.link);
  // One masker per step: bytes it holds back at a step's end never leak into the next step.
  if (!job.secret_values.empty()) run->mask_secrets(std::make_shared<SecretMasker>(job.secret_values));
  auto watcher = std::make_shared<StepWatcher>(io_.get_executor());
  run->watch(watcher);
  record.command_id = command_id;
  db.update_job_step(record);
  job.step_run = run;
  if (!job.link->online()) {
    db.finish_command(command_id, CommandFinish::failed("agent-offline", "agent " + job.agent + " is not connected", now_ms()));
    job.step_run.reset();
    co_return StepEnd{"lost", "agent " + job.agent + " went away"};
  }
  if (auto started = job.link->start(request.to_json(), run); !started) {
    db.finish_command(command_id, CommandFinish::failed(started.tag, started.message, now_ms()));
    job.step_run.reset();
    if (started.tag == "agent-busy") co_return StepEnd{"lost", "agent " + job.agent + " went away"};
    co_return StepEnd{"failure", started.message};  // too large to send: the step, not the agent
  }
  while (!watcher->finished) co_await watcher->done.wait();
  job.step_run.reset();
  if (const json::value* code = watcher->result.if_contains("exit_code"); code && code->is_int64()) {
    record.exit_code = code->get_int64();
  }
  StepEnd end{step_state(watcher->result), ""};
  if (const json::value* error = watcher->result.if_contains("error"); error && error->is_object()) {
    const json::object& e = error->get_object();
    if (const json::value* m = e.if_contains("message"); m && m->is_string()) end.message = std::string(m->get_string());
  }
  co_return end;
}

asio::awaitable<JobScheduler::StepEnd> JobScheduler::run_transfer_step(RunningJob& job, const RecipeStep& step) {
  protocol::FsRequest request;
  std::optional<ArtifactStore::Writer> writer;
  AgentFsCall::Sink sink;
  AgentFsCall::Source source;  // its lambda keeps what it reads from alive
  if (step.kind == RecipeStep::Kind::upload) {
    request.op = protocol::FsOp::get_tree;
    request.path = in_work_dir(job.work_dir, step.from);
    writer.emplace(state_.artifacts().path_of(job.record.id, step.artifact));
    sink = [&writer](protocol::ByteView bytes) { writer->write(bytes); };
  } else {
    request.op = protocol::FsOp::put_tree;
    request.path = in_work_dir(job.work_dir, step.to);
    request.parents = true;
  }
  if (step.file) {
    // A file or tree of the master's files directory, packed as the CLI packs a local tree.
    const std::filesystem::path local = state_.files_dir() / *step.file;
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(local, ec))) {
      co_return StepEnd{"failure", "not-found: the master's files directory has no " + *step.file};
    }
    try {
      auto tree = std::make_shared<cli::LocalTreeSource>(cli::scan_local_tree(local.string()));
      source = [tree] { return tree->next_piece(); };
    } catch (const std::exception& e) {
      co_return StepEnd{"failure", std::string("io-error: ") + e.what()};
    }
  } else if (!writer) {
    const auto artifact = find_artifact(job.record, step);
    if (!artifact) {
      co_return StepEnd{"failure", "not-found: no artifact " + step.artifact +
                                       (step.job ? " in job " + *step.job : " in this job or the jobs it needs")};
    }
    try {
      auto reader = std::make_shared<ArtifactStore::Reader>(state_.artifacts().path_of(artifact->job_id, artifact->name));
      source = [reader] { return reader->next_piece(); };
    } catch (const std::exception& e) {
      co_return StepEnd{"failure", std::string("io-error: ") + e.what()};
    }
  }
  const FsCallTracker running = tracker(job);
  const FsCallOutcome outcome = co_await run_fs_call(job.link, request, sink, source, running);
  if (!outcome.ok()) {
    const std::string state = failed_step_state(outcome);
    co_return StepEnd{state, state == "failure" ? outcome.tag + ": " + outcome.message : outcome.message};
  }
  if (writer) {
    try {
      writer->commit();
      ArtifactRecord a;
      a.job_id = job.record.id;
      a.name = step.artifact;
      a.size = writer->size();
      a.sha256 = writer->sha256();
      const json::object& r = *outcome.result;
      if (const json::value* v = r.if_contains("entries"); v && v->is_int64()) a.entries = v->get_int64();
      if (const json::value* v = r.if_contains("bytes"); v && v->is_int64()) a.bytes = v->get_int64();
      a.created_ms = now_ms();
      state_.storage().add_artifact(a);
    } catch (const std::exception& e) {
      co_return StepEnd{"failure", std::string("io-error: cannot keep the artifact: ") + e.what()};
    }
  }
  co_return StepEnd{"success", ""};
}

asio::awaitable<std::string> JobScheduler::pin_commits(Recipe& recipe) {
  std::map<std::string, RepoRecord> repos;
  for (RecipeStep& step : recipe.steps) {
    if (step.kind != RecipeStep::Kind::checkout) continue;
    const auto repo = state_.storage().get_repo(step.repo);
    if (!repo) co_return "unknown-repo: no repository " + step.repo + " (remsh repo add)";
    repos[repo->name] = *repo;
  }
  if (repos.empty()) co_return "";
  VcsService& vcs = state_.vcs();
  std::vector<std::pair<std::string, std::string>> wanted;  // repo, ref
  for (const RecipeStep& step : recipe.steps) {
    if (step.kind == RecipeStep::Kind::checkout) wanted.emplace_back(step.repo, step.ref);
  }
  auto resolve = [&vcs, repos, wanted] {
    std::pair<std::vector<std::string>, std::string> out;  // commits in order, or an error
    try {
      for (const auto& [name, repo] : repos) vcs.mirror(name, repo.url).fetch();  // once per repository
      for (const auto& [name, ref] : wanted) out.first.push_back(vcs.mirror(name, repos.at(name).url).resolve(ref));
    } catch (const vcs::VcsError& e) {
      out.second = e.tag + ": " + e.what();
    }
    return out;
  };
  const auto resolved = co_await vcs.run(std::move(resolve));
  if (!resolved.second.empty()) co_return resolved.second;
  std::size_t next = 0;
  for (RecipeStep& step : recipe.steps) {
    if (step.kind == RecipeStep::Kind::checkout) step.commit = resolved.first[next++];
  }
  const std::int64_t now = now_ms();
  for (auto [name, repo] : repos) {
    repo.fetched_ms = now;
    state_.storage().put_repo(repo);
  }
  co_return "";
}

asio::awaitable<JobScheduler::StepEnd> JobScheduler::run_git_checkout(RunningJob& job, const RecipeStep& step,
                                                                      JobStepRecord& record) {
  Storage& db = state_.storage();
  const auto repo = db.get_repo(step.repo);
  if (!repo) co_return StepEnd{"failure", "unknown-repo: no repository " + step.repo + " (remsh repo add)"};
  // The master resolves the ref (the agent fetches exactly that commit) and looks for
  // submodules; the agent's side is looked at with a stat.
  struct Resolved {
    std::string commit;
    bool submodules = false;
    std::string error;
  };
  VcsService& vcs = state_.vcs();
  auto resolve = [&vcs, repo = *repo, ref = step.ref, pinned = step.commit] {
    Resolved r;
    try {
      vcs::Mirror& mirror = vcs.mirror(repo.name, repo.url);
      r.commit = VcsService::step_commit(mirror, ref, pinned);
      r.submodules = mirror.read_path(r.commit, ".gitmodules").has_value();
    } catch (const vcs::VcsError& e) {
      r.error = e.tag + ": " + e.what();
    }
    return r;
  };
  const Resolved resolved = co_await vcs.run(std::move(resolve));
  if (!resolved.error.empty()) co_return StepEnd{"failure", resolved.error};
  const std::string dir = in_work_dir(job.work_dir, step.to);
  protocol::FsRequest stat;
  stat.op = protocol::FsOp::stat;
  stat.path = dir + "/.git";
  const FsCallTracker running = tracker(job);
  const FsCallOutcome seen = co_await run_fs_call(job.link, stat, {}, {}, running);
  if (!seen.ok()) co_return StepEnd{failed_step_state(seen), seen.tag + ": " + seen.message};
  const json::value* exists = seen.result->if_contains("exists");
  vcs::GitPlanInput in;
  in.url = repo->url;
  in.commit = resolved.commit;
  in.dir = step.to;  // the commands run in the job's directory
  in.method = step.method;
  in.has_repository = exists && exists->is_bool() && exists->get_bool();
  in.has_submodules = resolved.submodules;
  // One shell line, the commands joined by && (which sh and cmd.exe both read), quoted for
  // the agent's system.
  const auto agent_record = db.find_agent(job.agent);
  const AgentFacts facts = agent_record ? read_agent_facts(*agent_record) : AgentFacts{};
  const json::value* os = facts.raw.if_contains("os");
  const bool windows = os && os->is_string() && std::string_view(os->get_string()).rfind("Windows", 0) == 0;
  std::string line;
  for (const auto& argv : vcs::git_checkout_plan(in)) {
    if (!line.empty()) line += " && ";
    for (std::size_t i = 0; i < argv.size(); ++i) {
      if (i) line += ' ';
      line += windows ? cli::cmd_quote(argv[i]) : cli::shell_quote(argv[i]);
    }
  }
  RecipeStep commands = step;
  commands.kind = RecipeStep::Kind::run;
  commands.run = line;
  commands.cwd = ".";
  const StepEnd end = co_await run_command_step(job, commands, record);
  if (end.state == "success") {
    JobSourceRecord source;
    source.job_id = job.record.id;
    source.step = record.index;
    source.repo = repo->name;
    source.ref = step.ref;
    source.commit = resolved.commit;
    source.dir = dir;
    source.full = !in.has_repository || step.method == "clobber";
    db.add_job_source(source);
    // What the directory holds is git's business now: a later snapshot checkout there reads
    // the manifest afresh.
    db.forget_agent_checkout(job.agent, dir);
  }
  co_return end;
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
  bool halted = false;  // a step failed (without continue_on_error), or the job's set-up did
  bool lost = false;
  bool set_up = true;  // the directory made: otherwise no step runs, not even always: ones
  std::string reason;

  // Before any step: the secrets and the commits to check out. A failure there halts the job
  // as a failed step would: only always: steps run.
  for (const std::string& name : job->recipe.secrets) {
    const auto secret = db.get_secret(name);
    if (!secret) {
      halted = true;
      reason = "secret " + name + " is not in the master's secret store (remsh secret set " + name + ")";
      break;
    }
    try {
      job->secret_values.push_back(state_.secret_box().open(name, secret->sealed));
      job->secret_env[name] = job->secret_values.back();
    } catch (const std::exception& e) {
      halted = true;
      reason = e.what();
      break;
    }
  }
  // Every checkout's ref becomes a commit now, before any step runs: the job builds from one
  // recorded set of commits, however long its earlier steps take.
  if (!halted) {
    const std::string failed = co_await pin_commits(job->recipe);
    if (!failed.empty()) {
      halted = true;
      reason = failed;
    }
  }
  // Then the job's directory on the agent.
  {
    protocol::FsRequest mkdir;
    mkdir.op = protocol::FsOp::mkdir;
    mkdir.path = job->work_dir;
    AgentFsCall call(job->link, mkdir);
    const FsCallOutcome made = co_await call.run();
    if (!made.ok()) {
      set_up = false;
      lost = failed_step_state(made) == "lost";
      if (!halted || lost) reason = "cannot create the job's directory " + job->work_dir + ": " + made.tag + ": " + made.message;
    }
  }

  for (std::size_t i = 0; i < job->recipe.steps.size() && i < steps.size(); ++i) {
    const RecipeStep& step = job->recipe.steps[i];
    JobStepRecord& record = steps[i];
    // After a failure, a timeout or a cancel only always: steps run; with the agent gone
    // (its session ended for good), none can.
    if (lost || !set_up || ((halted || job->cancelled || job->timed_out) && !step.always)) {
      record.state = "skipped";
      db.update_job_step(record);
      continue;
    }
    record.state = "running";
    record.started_ms = now_ms();
    db.update_job_step(record);
    // (Not a ?: of two co_awaits: GCC 12 miscompiles that.)
    StepEnd end;
    if (step.kind == RecipeStep::Kind::run) {
      end = co_await run_command_step(*job, step, record);
    } else if (step.kind == RecipeStep::Kind::checkout && step.git_mode) {
      end = co_await run_git_checkout(*job, step, record);
    } else if (step.kind == RecipeStep::Kind::checkout) {
      const std::string dir = in_work_dir(job->work_dir, step.to);
      const FsCallTracker running = tracker(*job);
      const CheckoutOutcome done = co_await run_checkout(state_, job->link, id, static_cast<std::int64_t>(i), step, dir, running);
      end = StepEnd{done.state, done.message};
    } else {
      end = co_await run_transfer_step(*job, step);
    }
    // Messages quote paths from the repository and the agent, which are bytes; the reason is
    // served as JSON text.
    end.message = protocol::to_utf8_lossy(end.message);
    record.state = end.state;
    if (job->cancelled && record.state != "success") record.state = "cancelled";
    record.finished_ms = now_ms();
    db.update_job_step(record);
    if (record.state == "lost") {
      lost = true;
      reason = "agent " + job->agent + " went away during step " + std::to_string(i);
    } else if (record.state != "success" && !step.continue_on_error && !halted) {
      halted = true;
      reason = "step " + std::to_string(i) + " (" + step.name + ") ended " + record.state +
               (record.exit_code ? " with exit code " + std::to_string(*record.exit_code) : "") +
               (end.message.empty() || record.exit_code ? "" : ": " + end.message);
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
  } else if (halted || !set_up) {
    state = "failure";
  }
  if (state == "lost" && job->record.attempts < job->recipe.retries) {
    const std::string why = "attempt " + std::to_string(job->record.attempts + 1) + " lost: " + reason + "; retried (on another agent when one can take it)";
    db.requeue_job(id, why);
    log_line("job " + std::to_string(id) + " (" + job->record.name + "): " + why);
    co_return;
  }
  db.finish_job(id, state, reason.empty() ? std::nullopt : std::optional<std::string>(reason), now_ms());
  log_line("job " + std::to_string(id) + " (" + job->record.name + ") ended " + state);
  wake_.notify();  // jobs that need this one may start now

  // A failed job keeps its directory and agent slot for `remsh shell --job` (no other job of
  // the slot can touch the directory meanwhile).
  if ((state == "failure" || state == "timed-out") && job->recipe.debug_on_failure_s && !finishing_ && !stopping_) {
    const auto hold = std::chrono::seconds(*job->recipe.debug_on_failure_s);
    db.set_job_debug_until(id, now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(hold).count());
    job->held = true;
    maybe_finished();
    log_line("job " + std::to_string(id) + ": " + job->work_dir + " on " + job->agent + " kept for debugging for " +
             std::to_string(hold.count()) + " s (remsh shell --job " + std::to_string(id) + ")");
    job->hold.expires_after(hold);
    co_await job->hold.async_wait(asio::as_tuple(asio::use_awaitable));
    db.set_job_debug_until(id, std::nullopt);
    log_line("job " + std::to_string(id) + ": debug hold ended");
  }
}

}  // namespace remsh::master
