// Job recipes: YAML from API clients (POST /api/v1/jobs), parsed by the master.
#include <cstdint>
#include <string>
#include <variant>

#include "daemon/recipe.hpp"

using namespace remsh::master;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = parse_recipe(std::string(reinterpret_cast<const char*>(data), size));
  if (auto* recipe = std::get_if<Recipe>(&parsed)) {
    // What the parser promises of an accepted recipe.
    if (recipe->name.empty() || recipe->steps.empty() || recipe->steps.size() > 1000) __builtin_trap();
    for (const auto& step : recipe->steps) {
      if (step.run.empty()) __builtin_trap();
      if (step.timeout_s && *step.timeout_s <= 0) __builtin_trap();
    }
  }
  return 0;
}
