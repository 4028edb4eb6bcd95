// Recipe: a job as its author describes it (YAML, docs/api.md "Jobs"). The master parses and
// checks it at submission, stores the text, and its step logic runs it; the agent never sees
// a recipe, only the commands of its steps.
//
//   name: unit-tests
//   agents: { labels: [linux] }      # who may run it (default: any agent)
//   env: { CC: gcc }
//   timeout: 30m                      # the whole job
//   priority: 10                      # higher runs first (default 0)
//   retries: 2                        # a job lost with its agent runs again elsewhere
//   steps:
//     - run: make -j2                 # a shell line on the agent
//       name: build                   # (default: the run line)
//       timeout: 20m
//       no_output_timeout: 5m
//       continue_on_error: true       # a failure does not halt the job
//       always: true                  # runs even after a failure, timeout or cancel
//       env: { V: "1" }
//       cwd: sub/dir
//     - upload: { from: build/out, artifact: bin }    # a file or tree of the work dir, kept
//     - download: { artifact: bin, to: in, job: build }  # from this job or one it needs
//     - download: { file: tools/x.tar, to: in }      # from the master's files directory
//     - checkout: { repo: core, ref: main, dir: src, method: clean }  # a snapshot, no git needed
//   needs: [build]              # in a pipeline file: jobs that must succeed first
//   secrets: [DEPLOY_KEY]       # from the master's secret store, as variables; masked in logs
//   debug_on_failure: 20m       # keep the failed job's work dir and agent slot this long
//
// A pipeline file lists several such jobs under `jobs:`; `needs:` names jobs of the same
// file, so a pipeline fans out (two jobs need one) and in (one job needs two).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace remsh::master {

struct RecipeStep {
  enum class Kind { run, upload, download, checkout };
  Kind kind = Kind::run;
  std::string name;
  std::string run;
  // upload: `from` (a path in the work dir) kept as `artifact`. download: `artifact` (of
  // `job`, else of this job or one it needs) or `file` (in the master's files directory)
  // extracted into `to` (default: the work dir itself).
  std::string from;
  std::string artifact;
  std::optional<std::string> job;
  std::optional<std::string> file;
  std::string to = ".";
  // checkout: `repo` (declared on the master) at `ref` into `to` (the job's directory by
  // default), as a snapshot sent by the master: `method` incremental (only what differs;
  // other files kept), clean (then everything not in the tree removed) or clobber (afresh).
  std::string repo;
  std::string ref = "HEAD";
  std::string method = "incremental";
  bool git_mode = false;  // mode: git — the agent runs git itself, commands planned by the master
  std::string commit;     // what `ref` meant when the job started (set by the step logic)
  std::map<std::string, std::string> env;
  std::optional<std::string> cwd;
  std::optional<std::int64_t> timeout_s;
  std::optional<std::int64_t> no_output_timeout_s;
  bool continue_on_error = false;
  bool always = false;
};

struct Recipe {
  std::string name;
  std::vector<std::string> labels;
  std::map<std::string, std::string> env;
  std::optional<std::int64_t> timeout_s;
  std::int64_t priority = 0;
  std::int64_t retries = 0;  // 0..10
  std::vector<std::string> needs;    // names of jobs of the same pipeline
  std::vector<std::string> secrets;  // names in the master's secret store
  std::optional<std::int64_t> debug_on_failure_s;
  std::vector<RecipeStep> steps;
};

// The recipe, or a message naming what is wrong (and where).
std::variant<Recipe, std::string> parse_recipe(const std::string& yaml);

// What a user submits: one recipe, or a pipeline of several (`jobs:`). Jobs come in an order
// where each one follows the jobs it needs; `text` is each job's own recipe, as stored.
struct SubmittedJob {
  Recipe recipe;
  std::string text;
};
std::variant<std::vector<SubmittedJob>, std::string> parse_submission(const std::string& yaml);

// An artifact's name: 1..128 of [A-Za-z0-9._-], not starting with a dot.
bool valid_artifact_name(const std::string& name);

}  // namespace remsh::master
