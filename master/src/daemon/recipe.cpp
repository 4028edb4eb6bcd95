#include "daemon/recipe.hpp"
#include "daemon/secret_name.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "duration.hpp"

namespace remsh::master {

namespace {

// A step named after its command: the first line that says something, at most 80 bytes (cut
// at a UTF-8 boundary), with "..." when there is more. Tables and headers show one line.
std::string one_line_name(const std::string& run) {
  std::size_t start = run.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return run.substr(0, 80);
  std::size_t end = run.find_first_of("\r\n", start);
  std::string line = run.substr(start, end == std::string::npos ? std::string::npos : end - start);
  bool more = end != std::string::npos && run.find_first_not_of(" \t\r\n", end) != std::string::npos;
  if (line.size() > 80) {
    std::size_t cut = 80;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line.resize(cut);
    more = true;
  }
  return more ? line + " ..." : line;
}

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

void refuse_unknown(const YAML::Node& n, const std::string& where, std::initializer_list<const char*> known) {
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
      fail(where + ": unknown key \"" + key + "\"");
    }
  }
}

void paths_step(const YAML::Node& n, const std::string& where, RecipeStep& s) {
  if (!n.IsMap()) fail(where + " must be a mapping");
  if (s.kind == RecipeStep::Kind::upload) {
    refuse_unknown(n, where, {"from", "artifact"});
    if (!n["from"] || !n["artifact"]) fail(where + " needs from: (a path in the work dir) and artifact: (a name)");
    s.from = scalar(n["from"], where + ".from");
    s.artifact = scalar(n["artifact"], where + ".artifact");
    if (s.from.empty()) fail(where + ".from is empty");
  } else {
    refuse_unknown(n, where, {"artifact", "job", "file", "to"});
    if (!n["artifact"] == !n["file"]) fail(where + " needs either artifact: or file:");
    if (n["artifact"]) s.artifact = scalar(n["artifact"], where + ".artifact");
    if (n["job"]) {
      if (!n["artifact"]) fail(where + ".job goes with artifact:");
      s.job = scalar(n["job"], where + ".job");
    }
    if (n["file"]) {
      s.file = scalar(n["file"], where + ".file");
      const std::string& f = *s.file;
      if (f.empty() || f.front() == '/' || f == ".." || f.rfind("../", 0) == 0 || f.find("/../") != std::string::npos ||
          (f.size() >= 3 && f.compare(f.size() - 3, 3, "/..") == 0)) {
        fail(where + ".file must be a relative path inside the master's files directory");
      }
    }
    if (n["to"]) s.to = scalar(n["to"], where + ".to");
    if (s.to.empty()) fail(where + ".to is empty");
  }
  // Validated whenever the step names an artifact at all: `artifact: ""` is a name, and a bad one.
  if (!s.file) {
    if (!valid_artifact_name(s.artifact)) {
      fail(where + ".artifact must be 1 to 128 of A-Z a-z 0-9 . _ - (not starting with a dot)");
    }
  }
}

void checkout_step(const YAML::Node& n, const std::string& where, RecipeStep& s) {
  if (!n.IsMap()) fail(where + " must be a mapping ({repo: NAME, ref: REF})");
  refuse_unknown(n, where, {"repo", "ref", "dir", "method", "mode"});
  if (!n["repo"]) fail(where + " needs repo: (a repository declared with remsh repo add)");
  s.repo = scalar(n["repo"], where + ".repo");
  if (s.repo.empty()) fail(where + ".repo is empty");
  if (n["ref"]) s.ref = scalar(n["ref"], where + ".ref");
  if (s.ref.empty() || s.ref.size() > 1024) fail(where + ".ref must be 1 to 1024 characters");
  if (n["dir"]) s.to = scalar(n["dir"], where + ".dir");
  if (s.to.empty()) fail(where + ".dir is empty");
  if (n["method"]) s.method = scalar(n["method"], where + ".method");
  if (s.method != "incremental" && s.method != "clean" && s.method != "clobber") {
    fail(where + ".method must be incremental, clean or clobber");
  }
  if (n["mode"]) {
    const std::string mode = scalar(n["mode"], where + ".mode");
    if (mode != "snapshot" && mode != "git") fail(where + ".mode must be snapshot or git");
    s.git_mode = mode == "git";
  }
}

RecipeStep parse_step(const YAML::Node& n, std::size_t index) {
  const std::string where = "steps[" + std::to_string(index) + "]";
  if (!n.IsMap()) fail(where + " must be a mapping (- run: COMMAND)");
  refuse_unknown(n, where, {"run", "upload", "download", "checkout", "name", "env", "cwd", "timeout",
                            "no_output_timeout", "continue_on_error", "always"});
  RecipeStep s;
  const int kinds = (n["run"] ? 1 : 0) + (n["upload"] ? 1 : 0) + (n["download"] ? 1 : 0) + (n["checkout"] ? 1 : 0);
  if (kinds != 1) fail(where + " needs exactly one of run:, upload:, download:, checkout:");
  if (n["checkout"]) {
    s.kind = RecipeStep::Kind::checkout;
    checkout_step(n["checkout"], where + ".checkout", s);
    s.name = "checkout " + s.repo + " " + s.ref + (s.to == "." ? "" : " into " + s.to);
    for (const char* key : {"env", "cwd", "timeout", "no_output_timeout"}) {
      if (n[key]) fail(where + "." + key + " applies to run: steps only");
    }
  } else if (n["run"]) {
    s.run = scalar(n["run"], where + ".run");
    if (s.run.empty()) fail(where + ".run is empty");
    s.name = one_line_name(s.run);
  } else if (n["upload"]) {
    s.kind = RecipeStep::Kind::upload;
    paths_step(n["upload"], where + ".upload", s);
    s.name = "upload " + s.from + " as " + s.artifact;
    for (const char* key : {"env", "cwd", "timeout", "no_output_timeout"}) {
      if (n[key]) fail(where + "." + key + " applies to run: steps only");
    }
  } else {
    s.kind = RecipeStep::Kind::download;
    paths_step(n["download"], where + ".download", s);
    s.name = "download " + (s.file ? "file " + *s.file : s.artifact) + " to " + s.to;
    for (const char* key : {"env", "cwd", "timeout", "no_output_timeout"}) {
      if (n[key]) fail(where + "." + key + " applies to run: steps only");
    }
  }
  if (n["name"]) s.name = scalar(n["name"], where + ".name");
  s.env = env_map(n["env"], where + ".env");
  if (n["cwd"]) s.cwd = scalar(n["cwd"], where + ".cwd");
  s.timeout_s = duration(n["timeout"], where + ".timeout");
  s.no_output_timeout_s = duration(n["no_output_timeout"], where + ".no_output_timeout");
  s.continue_on_error = flag(n["continue_on_error"], where + ".continue_on_error");
  s.always = flag(n["always"], where + ".always");
  return s;
}

std::vector<std::string> name_list(const YAML::Node& n, const std::string& where) {
  std::vector<std::string> out;
  if (!n) return out;
  if (!n.IsSequence()) fail(where + " must be a list");
  for (const auto& e : n) {
    std::string name = scalar(e, where + "[]");
    if (name.empty()) fail(where + " holds an empty name");
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

Recipe parse_recipe_node(const YAML::Node& root) {
  if (!root.IsMap()) fail("a recipe is a YAML mapping (name:, steps:, ...)");
  refuse_unknown(root, "recipe", {"name", "agents", "env", "timeout", "priority", "retries", "steps", "needs",
                                  "secrets", "debug_on_failure"});
  Recipe r;
  if (!root["name"]) fail("recipe.name is required");
  r.name = scalar(root["name"], "recipe.name");
  if (r.name.empty() || r.name.size() > 128) fail("recipe.name must be 1 to 128 characters");
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
  r.needs = name_list(root["needs"], "recipe.needs");
  r.secrets = name_list(root["secrets"], "recipe.secrets");
  for (const std::string& name : r.secrets) {
    if (!valid_secret_name(name)) {
      fail("recipe.secrets: " + name + " is not a secret name ([A-Za-z_][A-Za-z0-9_]*, at most 128)");
    }
    // Which value a step would get is a guess either way: said instead.
    if (r.env.count(name)) fail("recipe.secrets: " + name + " is also set in recipe.env");
  }
  r.debug_on_failure_s = duration(root["debug_on_failure"], "recipe.debug_on_failure");
  if (r.debug_on_failure_s && *r.debug_on_failure_s > 24 * 3600) fail("recipe.debug_on_failure: at most 24h");
  const YAML::Node steps = root["steps"];
  if (!steps || !steps.IsSequence() || steps.size() == 0) fail("recipe.steps must be a non-empty list");
  if (steps.size() > 1000) fail("recipe.steps: at most 1000 steps");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    r.steps.push_back(parse_step(steps[i], i));
    for (const std::string& name : r.secrets) {
      if (r.steps.back().env.count(name)) {
        fail("recipe.steps[" + std::to_string(i) + "].env sets " + name + ", which recipe.secrets names");
      }
    }
  }
  for (const RecipeStep& s : r.steps) {
    if (s.job && std::find(r.needs.begin(), r.needs.end(), *s.job) == r.needs.end()) {
      fail("a download names job " + *s.job + ", which recipe.needs does not list");
    }
  }
  return r;
}

}  // namespace

bool valid_artifact_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::variant<Recipe, std::string> parse_recipe(const std::string& yaml) {
  try {
    return parse_recipe_node(YAML::Load(yaml));
  } catch (const RecipeError& e) {
    return e.message;
  } catch (const YAML::Exception& e) {
    return std::string("not valid YAML: ") + e.what();
  }
}

std::variant<std::vector<SubmittedJob>, std::string> parse_submission(const std::string& yaml) {
  try {
    const YAML::Node root = YAML::Load(yaml);
    if (!root.IsMap() || !root["jobs"]) {
      Recipe r = parse_recipe_node(root);
      if (!r.needs.empty()) fail("recipe.needs names jobs of the same pipeline file (a file with jobs: [...])");
      return std::vector<SubmittedJob>{{std::move(r), yaml}};
    }
    refuse_unknown(root, "pipeline", {"jobs"});
    const YAML::Node jobs = root["jobs"];
    if (!jobs.IsSequence() || jobs.size() == 0) fail("pipeline.jobs must be a non-empty list of recipes");
    if (jobs.size() > 100) fail("pipeline.jobs: at most 100 jobs");
    std::vector<SubmittedJob> parsed;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      try {
        Recipe r = parse_recipe_node(jobs[i]);
        YAML::Emitter out;
        out << jobs[i];
        std::string text = std::string(out.c_str()) + "\n";
        // Each job is stored as its own recipe: it must read back as the same job (YAML
        // cannot carry every byte string faithfully, e.g. a name that is not UTF-8).
        const Recipe again = parse_recipe_node(YAML::Load(text));
        if (again.name != r.name || again.needs != r.needs || again.steps.size() != r.steps.size()) {
          fail("cannot be stored as YAML faithfully (a name that is not valid UTF-8?)");
        }
        parsed.push_back({std::move(r), std::move(text)});
      } catch (const RecipeError& e) {
        fail("jobs[" + std::to_string(i) + "]: " + e.message);
      }
    }
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      for (std::size_t k = 0; k < i; ++k) {
        if (parsed[k].recipe.name == parsed[i].recipe.name) fail("two jobs are named " + parsed[i].recipe.name);
      }
    }
    // Each job after the jobs it needs (which also finds unknown names and cycles).
    std::vector<SubmittedJob> ordered;
    std::vector<bool> placed(parsed.size(), false);
    while (ordered.size() < parsed.size()) {
      bool progress = false;
      for (std::size_t i = 0; i < parsed.size(); ++i) {
        if (placed[i]) continue;
        const bool ready = std::all_of(parsed[i].recipe.needs.begin(), parsed[i].recipe.needs.end(), [&](const std::string& n) {
          return std::any_of(ordered.begin(), ordered.end(), [&](const SubmittedJob& j) { return j.recipe.name == n; });
        });
        if (!ready) continue;
        placed[i] = true;
        ordered.push_back(parsed[i]);
        progress = true;
      }
      if (progress) continue;
      for (std::size_t i = 0; i < parsed.size(); ++i) {
        if (placed[i]) continue;
        for (const std::string& n : parsed[i].recipe.needs) {
          const bool known = std::any_of(parsed.begin(), parsed.end(), [&](const SubmittedJob& j) { return j.recipe.name == n; });
          if (!known) fail("job " + parsed[i].recipe.name + " needs " + n + ", which the pipeline does not define");
        }
      }
      fail("the jobs' needs: form a cycle");
    }
    return ordered;
  } catch (const RecipeError& e) {
    return e.message;
  } catch (const YAML::Exception& e) {
    return std::string("not valid YAML: ") + e.what();
  }
}

}  // namespace remsh::master
