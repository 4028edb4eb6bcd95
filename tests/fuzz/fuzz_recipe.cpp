// Job recipes and pipelines: YAML from API clients (POST /api/v1/jobs), parsed by the master.
#include <cstdint>
#include <string>
#include <variant>

#include "daemon/recipe.hpp"

using namespace remsh::master;

namespace {
// What the parser promises of an accepted recipe.
void check(const Recipe& recipe) {
  if (recipe.name.empty() || recipe.steps.empty() || recipe.steps.size() > 1000) __builtin_trap();
  for (const auto& step : recipe.steps) {
    if (step.kind == RecipeStep::Kind::run && step.run.empty()) __builtin_trap();
    if (step.kind != RecipeStep::Kind::run && !step.file && !valid_artifact_name(step.artifact)) __builtin_trap();
    if (step.timeout_s && *step.timeout_s <= 0) __builtin_trap();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_recipe(text);
  if (auto* recipe = std::get_if<Recipe>(&parsed)) check(*recipe);
  auto submitted = parse_submission(text);
  if (auto* jobs = std::get_if<std::vector<SubmittedJob>>(&submitted)) {
    // Every job comes after the jobs it needs, and its stored text parses to the same recipe.
    for (std::size_t i = 0; i < jobs->size(); ++i) {
      const Recipe& r = (*jobs)[i].recipe;
      check(r);
      for (const std::string& need : r.needs) {
        bool earlier = false;
        for (std::size_t k = 0; k < i; ++k) earlier = earlier || (*jobs)[k].recipe.name == need;
        if (!earlier) __builtin_trap();
      }
      auto again = parse_recipe((*jobs)[i].text);
      if (!std::holds_alternative<Recipe>(again) || std::get<Recipe>(again).name != r.name) __builtin_trap();
    }
  }
  return 0;
}
