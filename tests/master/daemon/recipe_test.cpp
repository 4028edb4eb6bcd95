// Recipes: what a job's author writes, checked at submission.
#include "daemon/recipe.hpp"

#include <catch2/catch.hpp>

using namespace remsh::master;

namespace {
std::string error_of(const std::string& yaml) {
  auto parsed = parse_recipe(yaml);
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  return "(accepted)";
}
}  // namespace

TEST_CASE("recipe: a full recipe is read", "[recipe]") {
  auto parsed = parse_recipe(R"(
name: unit-tests
agents: { labels: [linux, x86_64] }
env: { CC: gcc }
timeout: 30m
priority: 5
retries: 2
steps:
  - run: make -j2
    timeout: 20m
    no_output_timeout: 5m
  - run: make check
    name: check
    continue_on_error: true
    env: { V: "1" }
    cwd: build
  - run: ./cleanup.sh
    always: true
)");
  REQUIRE(std::holds_alternative<Recipe>(parsed));
  const Recipe& r = std::get<Recipe>(parsed);
  CHECK(r.name == "unit-tests");
  CHECK(r.labels == std::vector<std::string>{"linux", "x86_64"});
  CHECK(r.env.at("CC") == "gcc");
  CHECK(r.timeout_s == std::optional<std::int64_t>(1800));
  CHECK(r.priority == 5);
  CHECK(r.retries == 2);
  REQUIRE(r.steps.size() == 3);
  CHECK(r.steps[0].name == "make -j2");
  CHECK(r.steps[0].timeout_s == std::optional<std::int64_t>(1200));
  CHECK(r.steps[0].no_output_timeout_s == std::optional<std::int64_t>(300));
  CHECK(r.steps[1].name == "check");
  CHECK(r.steps[1].continue_on_error);
  CHECK(r.steps[1].env.at("V") == "1");
  CHECK(r.steps[1].cwd == std::optional<std::string>("build"));
  CHECK(r.steps[2].always);
  CHECK_FALSE(r.steps[2].continue_on_error);
}

TEST_CASE("recipe: mistakes are named", "[recipe]") {
  CHECK(error_of("- a\n- b\n") == "a recipe is a YAML mapping (name:, steps:, ...)");
  CHECK(error_of("steps: [{run: x}]") == "recipe.name is required");
  CHECK(error_of("name: x") == "recipe.steps must be a non-empty list");
  CHECK(error_of("name: x\nsteps: [{run: ''}]") == "steps[0].run is empty");
  CHECK(error_of("name: x\nsteps: [{name: y}]") == "steps[0] needs exactly one of run:, upload:, download:, checkout:");
  CHECK(error_of("name: x\nsteps: [{run: a, upload: {from: a, artifact: b}}]") ==
        "steps[0] needs exactly one of run:, upload:, download:, checkout:");
  CHECK(error_of("name: x\nsteps: [{run: a, timeout: later}]") ==
        "steps[0].timeout must be a duration such as 90, 30s, 10m, 2h");
  CHECK(error_of("name: x\nsteps: [{run: a, always: maybe}]") == "steps[0].always must be true or false");
  CHECK(error_of("name: x\nsteps: [{run: a, colour: red}]") == "steps[0]: unknown key \"colour\"");
  CHECK(error_of("name: x\nenv: [A]\nsteps: [{run: a}]") == "recipe.env must be a mapping of NAME: value");
  CHECK(error_of("name: x\nsecrets: K\nsteps: [{run: a}]") == "recipe.secrets must be a list");
  CHECK(error_of("name: x\nsteps: [{upload: {from: a, artifact: ../b}}]") ==
        "steps[0].upload.artifact must be 1 to 128 of A-Z a-z 0-9 . _ - (not starting with a dot)");
  CHECK(error_of("name: x\nsteps: [{upload: {from: a}}]") ==
        "steps[0].upload needs from: (a path in the work dir) and artifact: (a name)");
  CHECK(error_of("name: x\nsteps: [{download: {artifact: a, file: b}}]") == "steps[0].download needs either artifact: or file:");
  // Found by fuzz_recipe: an empty artifact name slipped through because only non-empty names were checked.
  CHECK(error_of("name: x\nsteps: [{download: {artifact: ''}}]") ==
        "steps[0].download.artifact must be 1 to 128 of A-Z a-z 0-9 . _ - (not starting with a dot)");
  CHECK(error_of("name: x\nsteps: [{download: {artifact: !tag }}]") ==
        "steps[0].download.artifact must be 1 to 128 of A-Z a-z 0-9 . _ - (not starting with a dot)");
  CHECK(error_of("name: x\nsteps: [{download: {file: ../etc/passwd}}]") ==
        "steps[0].download.file must be a relative path inside the master's files directory");
  CHECK(error_of("name: x\nsteps: [{download: {artifact: a, job: b}}]") ==
        "a download names job b, which recipe.needs does not list");
  CHECK(error_of("name: x\nsteps: [{upload: {from: a, artifact: b}, cwd: c}]") == "steps[0].cwd applies to run: steps only");
  CHECK(error_of("name: x\ndebug_on_failure: 2d\nsteps: [{run: a}]") == "recipe.debug_on_failure: at most 24h");
  CHECK(error_of("name: x\nsteps: [{checkout: {ref: main}}]") ==
        "steps[0].checkout needs repo: (a repository declared with remsh repo add)");
  CHECK(error_of("name: x\nsteps: [{checkout: {repo: core, method: fresh}}]") ==
        "steps[0].checkout.method must be incremental, clean or clobber");
  CHECK(error_of("name: x\nsteps: [{checkout: {repo: core, mode: svn}}]") == "steps[0].checkout.mode must be snapshot or git");
  CHECK(error_of("name: [").rfind("not valid YAML", 0) == 0);
  CHECK(error_of("name: x\nretries: 11\nsteps: [{run: a}]") == "recipe.retries must be an integer from 0 to 10");
  // Secrets: a variable name, and never also set by env (which value wins would be a guess).
  CHECK(error_of("name: x\nsecrets: [a-b]\nsteps: [{run: a}]") ==
        "recipe.secrets: a-b is not a secret name ([A-Za-z_][A-Za-z0-9_]*, at most 128)");
  CHECK(error_of("name: x\nsecrets: [K]\nenv: {K: v}\nsteps: [{run: a}]") == "recipe.secrets: K is also set in recipe.env");
  CHECK(error_of("name: x\nsecrets: [K]\nsteps: [{run: a}, {run: b, env: {K: v}}]") ==
        "recipe.steps[1].env sets K, which recipe.secrets names");
}

TEST_CASE("recipe: upload download secrets and debug_on_failure are read", "[recipe]") {
  auto parsed = parse_recipe(R"(
name: build
secrets: [DEPLOY_KEY, TOKEN, DEPLOY_KEY]
debug_on_failure: 20m
needs: [prepare]
steps:
  - upload: { from: build/report.xml, artifact: report }
  - download: { artifact: tools, job: prepare, to: vendor }
  - download: { file: fixtures/db.sql }
  - checkout: { repo: core, ref: v1.2, dir: src, method: clean }
  - checkout: { repo: deps }
  - checkout: { repo: deps, mode: git }
)");
  REQUIRE(std::holds_alternative<Recipe>(parsed));
  const Recipe& r = std::get<Recipe>(parsed);
  CHECK(r.secrets == std::vector<std::string>{"DEPLOY_KEY", "TOKEN"});
  CHECK(r.debug_on_failure_s == std::optional<std::int64_t>(1200));
  CHECK(r.needs == std::vector<std::string>{"prepare"});
  REQUIRE(r.steps.size() == 6);
  CHECK(r.steps[5].git_mode);
  CHECK_FALSE(r.steps[4].git_mode);
  CHECK(r.steps[3].kind == RecipeStep::Kind::checkout);
  CHECK(r.steps[3].repo == "core");
  CHECK(r.steps[3].ref == "v1.2");
  CHECK(r.steps[3].to == "src");
  CHECK(r.steps[3].method == "clean");
  CHECK(r.steps[4].ref == "HEAD");
  CHECK(r.steps[4].to == ".");
  CHECK(r.steps[4].method == "incremental");
  CHECK(r.steps[4].name == "checkout deps HEAD");
  CHECK(r.steps[0].kind == RecipeStep::Kind::upload);
  CHECK(r.steps[0].from == "build/report.xml");
  CHECK(r.steps[0].artifact == "report");
  CHECK(r.steps[0].name == "upload build/report.xml as report");
  CHECK(r.steps[1].kind == RecipeStep::Kind::download);
  CHECK(r.steps[1].job == std::optional<std::string>("prepare"));
  CHECK(r.steps[1].to == "vendor");
  CHECK(r.steps[2].file == std::optional<std::string>("fixtures/db.sql"));
  CHECK(r.steps[2].to == ".");
}

namespace {
std::string submission_error(const std::string& yaml) {
  auto parsed = parse_submission(yaml);
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  return "(accepted)";
}
}  // namespace

TEST_CASE("pipeline: jobs come after the jobs they need", "[recipe]") {
  auto parsed = parse_submission(R"(
jobs:
  - name: report
    needs: [test-a, test-b]
    steps: [{run: cat a b}]
  - name: test-a
    needs: [build]
    steps: [{download: {artifact: bin}}, {run: ./bin/t a}]
  - name: build
    steps: [{run: make}, {upload: {from: bin, artifact: bin}}]
  - name: test-b
    needs: [build]
    steps: [{run: ./bin/t b}]
)");
  REQUIRE(std::holds_alternative<std::vector<SubmittedJob>>(parsed));
  const auto& jobs = std::get<std::vector<SubmittedJob>>(parsed);
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[0].recipe.name == "build");
  CHECK(jobs[3].recipe.name == "report");
  // Each job's stored text is a recipe of its own.
  for (const auto& j : jobs) {
    auto again = parse_recipe(j.text);
    REQUIRE(std::holds_alternative<Recipe>(again));
    CHECK(std::get<Recipe>(again).name == j.recipe.name);
    CHECK(std::get<Recipe>(again).needs == j.recipe.needs);
  }
  auto single = parse_submission("name: x\nsteps: [{run: a}]");
  REQUIRE(std::holds_alternative<std::vector<SubmittedJob>>(single));
  CHECK(std::get<std::vector<SubmittedJob>>(single)[0].text == "name: x\nsteps: [{run: a}]");
}

TEST_CASE("pipeline: mistakes are named", "[recipe]") {
  CHECK(submission_error("name: x\nneeds: [y]\nsteps: [{run: a}]") ==
        "recipe.needs names jobs of the same pipeline file (a file with jobs: [...])");
  CHECK(submission_error("jobs: []") == "pipeline.jobs must be a non-empty list of recipes");
  CHECK(submission_error("jobs: [{name: a, steps: [{run: x}]}, {name: a, steps: [{run: y}]}]") == "two jobs are named a");
  CHECK(submission_error("jobs: [{name: a, needs: [b], steps: [{run: x}]}]") ==
        "job a needs b, which the pipeline does not define");
  CHECK(submission_error("jobs: [{name: a, needs: [b], steps: [{run: x}]}, {name: b, needs: [a], steps: [{run: y}]}]") ==
        "the jobs' needs: form a cycle");
  CHECK(submission_error("jobs: [{name: a}]") == "jobs[0]: recipe.steps must be a non-empty list");
  CHECK(submission_error("jobs: [{name: a, steps: [{run: x}]}]\ncolour: red") == "pipeline: unknown key \"colour\"");
}

TEST_CASE("recipe: a step is named after the first line of its command", "[recipe]") {
  auto name_of = [](const std::string& yaml) {
    auto parsed = parse_recipe(yaml);
    REQUIRE(std::holds_alternative<Recipe>(parsed));
    return std::get<Recipe>(parsed).steps.at(0).name;
  };
  CHECK(name_of("name: x\nsteps: [{run: make -j2}]") == "make -j2");
  CHECK(name_of("name: x\nsteps:\n  - run: |\n      cd src\n      make\n") == "cd src ...");
  CHECK(name_of("name: x\nsteps:\n  - run: |\n\n      only\n") == "only");
  CHECK(name_of("name: x\nsteps: [{run: " + std::string(100, 'a') + "}]") == std::string(80, 'a') + " ...");
}
