#include "daemon/recipe.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "duration.hpp"

namespace remsh::master {

namespace {

struct RecipeError {
  std::string message;
};

[[noreturn]] void fail(const std::string& message) { throw RecipeError{message}; }

std::string scalar(const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) fail(where + " must be a string");
  return n.as<std::string>();
}

std::optional<std::int64_t> duration(const YAML::Node& n, const std::string& where) {
  if (!n) return std::nullopt;
  auto s = cli::parse_duration_s(scalar(n, where));
  if (!s || *s <= 0) fail(where + " must be a duration such as 90, 30s, 10m, 2h");
  return s;
}

bool flag(const YAML::Node& n, const std::string& where) {
  if (!n) return false;
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    fail(where + " must be true or false");
  }
}

std::map<std::string, std::string> env_map(const YAML::Node& n, const std::string& where) {
  std::map<std::string, std::string> out;
  if (!n) return out;
  if (!n.IsMap()) fail(where + " must be a mapping of NAME: value");
  for (const auto& kv : n) {
    const std::string name = scalar(kv.first, where + " name");
    if (name.empty() || name.find('=') != std::string::npos) fail(where + ": " + name + " is not a variable name");
    out[name] = scalar(kv.second, where + "." + name);
  }
  return out;
}

// Keys this master knows but does not run yet: refused, rather than silently ignored.
void refuse_unsupported(const YAML::Node& n, const std::string& where, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (n[key]) fail(where + "." + key + " is not supported by this master yet");
  }
}

void refuse_unknown(const YAML::Node& n, const std::string& where, std::initializer_list<const char*> known) {
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
      fail(where + ": unknown key \"" + key + "\"");
    }
  }
}

RecipeStep parse_step(const YAML::Node& n, std::size_t index) {
  const std::string where = "steps[" + std::to_string(index) + "]";
  if (!n.IsMap()) fail(where + " must be a mapping (- run: COMMAND)");
  refuse_unsupported(n, where, {"checkout", "upload", "download"});
  refuse_unknown(n, where, {"run", "name", "env", "cwd", "timeout", "no_output_timeout", "continue_on_error", "always"});
  RecipeStep s;
  if (!n["run"]) fail(where + " has no run: (the only step kind this master runs yet)");
  s.run = scalar(n["run"], where + ".run");
  if (s.run.empty()) fail(where + ".run is empty");
  s.name = n["name"] ? scalar(n["name"], where + ".name") : s.run.substr(0, 80);
  s.env = env_map(n["env"], where + ".env");
  if (n["cwd"]) s.cwd = scalar(n["cwd"], where + ".cwd");
  s.timeout_s = duration(n["timeout"], where + ".timeout");
  s.no_output_timeout_s = duration(n["no_output_timeout"], where + ".no_output_timeout");
  s.continue_on_error = flag(n["continue_on_error"], where + ".continue_on_error");
  s.always = flag(n["always"], where + ".always");
  return s;
}

}  // namespace

std::variant<Recipe, std::string> parse_recipe(const std::string& yaml) {
  try {
    const YAML::Node root = YAML::Load(yaml);
    if (!root.IsMap()) return std::string("a recipe is a YAML mapping (name:, steps:, ...)");
    refuse_unsupported(root, "recipe", {"secrets", "needs", "debug_on_failure"});
    refuse_unknown(root, "recipe", {"name", "agents", "env", "timeout", "priority", "retries", "steps"});
    Recipe r;
    if (!root["name"]) return std::string("recipe.name is required");
    r.name = scalar(root["name"], "recipe.name");
    if (r.name.empty() || r.name.size() > 128) return std::string("recipe.name must be 1 to 128 characters");
    if (const YAML::Node agents = root["agents"]) {
      if (!agents.IsMap()) fail("recipe.agents must be a mapping ({labels: [...]})");
      refuse_unknown(agents, "recipe.agents", {"labels"});
      if (const YAML::Node labels = agents["labels"]) {
        if (!labels.IsSequence()) fail("recipe.agents.labels must be a list");
        for (const auto& l : labels) r.labels.push_back(scalar(l, "recipe.agents.labels[]"));
      }
    }
    r.env = env_map(root["env"], "recipe.env");
    r.timeout_s = duration(root["timeout"], "recipe.timeout");
    if (const YAML::Node p = root["priority"]) {
      try {
        r.priority = p.as<std::int64_t>();
      } catch (const YAML::Exception&) {
        fail("recipe.priority must be an integer");
      }
    }
    if (const YAML::Node n = root["retries"]) {
      try {
        r.retries = n.as<std::int64_t>();
      } catch (const YAML::Exception&) {
        fail("recipe.retries must be an integer from 0 to 10");
      }
      if (r.retries < 0 || r.retries > 10) fail("recipe.retries must be an integer from 0 to 10");
    }
    const YAML::Node steps = root["steps"];
    if (!steps || !steps.IsSequence() || steps.size() == 0) fail("recipe.steps must be a non-empty list");
    if (steps.size() > 1000) fail("recipe.steps: at most 1000 steps");
    for (std::size_t i = 0; i < steps.size(); ++i) r.steps.push_back(parse_step(steps[i], i));
    return r;
  } catch (const RecipeError& e) {
    return e.message;
  } catch (const YAML::Exception& e) {
    return std::string("not valid YAML: ") + e.what();
  }
}

}  // namespace remsh::master
