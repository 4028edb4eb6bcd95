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
  CHECK(error_of("name: x\nsteps: [{name: y}]") == "steps[0] has no run: (the only step kind this master runs yet)");
  CHECK(error_of("name: x\nsteps: [{run: a, timeout: later}]") ==
        "steps[0].timeout must be a duration such as 90, 30s, 10m, 2h");
  CHECK(error_of("name: x\nsteps: [{run: a, always: maybe}]") == "steps[0].always must be true or false");
  CHECK(error_of("name: x\nsteps: [{run: a, colour: red}]") == "steps[0]: unknown key \"colour\"");
  CHECK(error_of("name: x\nenv: [A]\nsteps: [{run: a}]") == "recipe.env must be a mapping of NAME: value");
  CHECK(error_of("name: x\nsecrets: [K]\nsteps: [{run: a}]") == "recipe.secrets is not supported by this master yet");
  CHECK(error_of("name: x\nsteps: [{checkout: {repo: core}}]") == "steps[0].checkout is not supported by this master yet");
  CHECK(error_of("name: [").rfind("not valid YAML", 0) == 0);
  CHECK(error_of("name: x\nretries: 11\nsteps: [{run: a}]") == "recipe.retries must be an integer from 0 to 10");
}
