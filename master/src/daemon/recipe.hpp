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
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace remsh::master {

struct RecipeStep {
  std::string name;
  std::string run;
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
  std::vector<RecipeStep> steps;
};

// The recipe, or a message naming what is wrong (and where).
std::variant<Recipe, std::string> parse_recipe(const std::string& yaml);

}  // namespace remsh::master
