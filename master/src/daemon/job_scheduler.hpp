// JobScheduler: the master's step logic (docs/api.md, "Jobs"). Queued jobs wait in SQLite;
// the scheduler gives each to an agent that may take it (online, approved, not draining or
// leaving, with every label the recipe asks for, and a free slot: its owner's
// max_concurrent, else one job at a time), then runs the recipe's steps there one by one as
// ordinary commands, storing every byte and deciding what comes next:
//   - a failed step halts the job unless it has continue_on_error; later steps are skipped
//     except those marked always, which run after a failure, a timeout or a cancel too;
//   - the job's timeout, or a cancel, kills the running step's process tree;
//   - an agent that goes away for good loses the job (state lost); with `retries:` it goes
//     back to the queue for another agent;
//   - a job of a pipeline waits until the jobs it needs succeeded, and is cancelled when one
//     of them did not;
//   - each job works in its own directory of the agent's work dir (jobs/NAME, kept from one
//     run of NAME to the next); upload and download steps move trees between it and the
//     master (artifacts, the master's files directory); secrets reach the steps as variables
//     and are masked in their output;
//   - with `debug_on_failure:`, a failed job keeps its agent slot (and so its directory,
//     untouched) for that long, for `remsh shell --job`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "daemon/agent_fs_call.hpp"
#include "daemon/agent_hub.hpp"
#include "storage/storage.hpp"
#include "daemon/notifier.hpp"
#include "daemon/recipe.hpp"
#include "daemon/state_dir.hpp"

namespace remsh::master {

class JobScheduler {
 public:
  JobScheduler(boost::asio::io_context& io, StateDir& state, AgentHub& hub);

  boost::asio::awaitable<void> run();  // until stop()
  void poke() { wake_.notify(); }      // a job was queued, or an agent may have become free
  // A queued job is cancelled at once; a running one has its step killed and ends cancelled
  // (its always: steps still run). False if the job is not queued or running.
  bool cancel(std::int64_t id);
  // Ends a failed job's debug hold at once. False if the job holds nothing.
  bool release(std::int64_t id);
  void stop();
  // A graceful master shutdown: start nothing new; call `done` once no job runs, or when the
  // deadline passes (jobs still running then are marked lost at the next start). Queued
  // jobs stay queued in SQLite for after the restart.
  void finish_then(std::chrono::seconds deadline, std::function<void()> done);
  std::size_t running() const;  // jobs running steps (not those held for debugging)

 private:
  void maybe_finished();
  struct RunningJob;
  boost::asio::awaitable<void> run_job(std::shared_ptr<RunningJob> job);
  struct StepEnd;
  static FsCallTracker tracker(RunningJob& job);
  boost::asio::awaitable<StepEnd> run_command_step(RunningJob& job, const RecipeStep& step, JobStepRecord& record);
  boost::asio::awaitable<StepEnd> run_transfer_step(RunningJob& job, const RecipeStep& step);
  // Resolves every checkout's ref to a commit (step.commit); an error message, or "".
  boost::asio::awaitable<std::string> pin_commits(Recipe& recipe);
  boost::asio::awaitable<StepEnd> run_git_checkout(RunningJob& job, const RecipeStep& step, JobStepRecord& record);
  std::optional<ArtifactRecord> find_artifact(const JobRecord& job, const RecipeStep& step);
  // Why a queued job cannot start yet (nullopt: it may), or ends without running.
  enum class Readiness { ready, waiting, blocked };
  Readiness needs_met(const JobRecord& job, std::string& why);
  std::string pick_work_dir(const std::string& agent, const std::string& job_name) const;
  std::shared_ptr<AgentLink> pick_agent(const std::vector<AgentRecord>& agents, const Recipe& recipe,
                                        const std::vector<std::string>& avoid);
  void start_queued();

  boost::asio::io_context& io_;
  StateDir& state_;
  AgentHub& hub_;
  Notifier wake_;
  std::map<std::int64_t, std::shared_ptr<RunningJob>> running_;
  bool stopping_ = false;
  bool finishing_ = false;
  std::function<void()> on_finished_;
  boost::asio::steady_timer finish_deadline_;
};

}  // namespace remsh::master
