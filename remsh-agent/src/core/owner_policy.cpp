#include "core/owner_policy.hpp"
#include "core/utf8_path.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace remsh::agent {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

template <typename T>
void add_unique(std::vector<T>& to, const std::vector<T>& from) {
  for (const auto& v : from) {
    if (std::find(to.begin(), to.end(), v) == to.end()) to.push_back(v);
  }
}

bool bool_field(const json::object& o, const char* key, bool fallback) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_bool()) throw PolicyError(std::string("\"") + key + "\" must be true or false");
  return it->value().get_bool();
}

std::vector<std::string> string_list(const json::object& o, const char* key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return out;
  if (!it->value().is_array()) throw PolicyError(std::string("\"") + key + "\" must be an array of strings");
  for (const auto& e : it->value().get_array()) {
    if (!e.is_string() || e.get_string().empty()) {
      throw PolicyError(std::string("\"") + key + "\" must be an array of non-empty strings");
    }
    out.emplace_back(e.get_string());
  }
  return out;
}

}  // namespace

void OwnerPolicy::merge(const OwnerPolicy& more) {
  confine = confine && more.confine;
  allow_shell = allow_shell || more.allow_shell;
  if (more.max_concurrent) {
    max_concurrent = max_concurrent ? std::min(*max_concurrent, *more.max_concurrent) : *more.max_concurrent;
  }
  add_unique(allow_paths, more.allow_paths);
  add_unique(deny_env, more.deny_env);
}

bool OwnerPolicy::denies_env(const std::string& name) const {
  return std::find(deny_env.begin(), deny_env.end(), name) != deny_env.end();
}

json::object OwnerPolicy::to_json() const {
  json::array paths, env;
  for (const auto& p : allow_paths) paths.emplace_back(utf8_string(p));
  for (const auto& e : deny_env) env.emplace_back(e);
  json::object o{{"confine", confine}, {"allow_shell", allow_shell},
                 {"allow_paths", std::move(paths)}, {"deny_env", std::move(env)}};
  o["max_concurrent"] = max_concurrent ? json::value(*max_concurrent) : json::value(nullptr);
  return o;
}

std::optional<protocol::ProtocolError> check_exec_request(const OwnerPolicy& policy, std::size_t running,
                                                          protocol::ExecRequest& request) {
  using protocol::ErrorTag;
  if (request.interactive && !policy.allow_shell) {
    return protocol::ProtocolError{ErrorTag::policy_denied,
                                   "the agent's owner does not allow debug shells (remsh-agent run --allow-shell)"};
  }
  if (policy.max_concurrent && running >= *policy.max_concurrent) {
    return protocol::ProtocolError{ErrorTag::policy_denied, "the agent's owner allows at most " +
                                                                std::to_string(*policy.max_concurrent) +
                                                                " concurrent command(s)"};
  }
  for (const auto& [name, value] : request.env) {
    if (value && policy.denies_env(name)) {
      return protocol::ProtocolError{ErrorTag::policy_denied, "the agent's owner does not let commands have " + name};
    }
  }
  for (const auto& name : policy.deny_env) request.env[name] = std::nullopt;
  return std::nullopt;
}

fs::path policy_path(const fs::path& config_dir) { return config_dir / "policy.json"; }

OwnerPolicy policy_from_json(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) throw PolicyError("not a JSON object");
  const json::object& o = v.get_object();
  static const char* const known[] = {"confine", "allow_shell", "max_concurrent", "allow_paths", "deny_env"};
  for (const auto& kv : o) {
    // A misspelt key would silently leave a default the owner meant to change.
    if (std::find(std::begin(known), std::end(known), kv.key()) == std::end(known)) {
      throw PolicyError("unknown setting \"" + std::string(kv.key()) + "\"");
    }
  }
  OwnerPolicy p;
  p.confine = bool_field(o, "confine", true);
  p.allow_shell = bool_field(o, "allow_shell", false);
  if (auto it = o.find("max_concurrent"); it != o.end() && !it->value().is_null()) {
    const json::value& n = it->value();
    const bool ok = (n.is_int64() && n.get_int64() >= 1 && n.get_int64() <= 1024) ||
                    (n.is_uint64() && n.get_uint64() >= 1 && n.get_uint64() <= 1024);
    if (!ok) throw PolicyError("\"max_concurrent\" must be an integer from 1 to 1024");
    p.max_concurrent = static_cast<std::uint32_t>(n.is_int64() ? n.get_int64() : n.get_uint64());
  }
  for (const auto& s : string_list(o, "allow_paths")) {
    if (!utf8_path(s).is_absolute()) throw PolicyError("\"allow_paths\": " + s + " is not an absolute path");
    p.allow_paths.push_back(utf8_path(s));
  }
  for (const auto& s : string_list(o, "deny_env")) {
    if (s.find('=') != std::string::npos) throw PolicyError("\"deny_env\": " + s + " is not a variable name");
    p.deny_env.push_back(s);
  }
  return p;
}

OwnerPolicy load_policy(const fs::path& config_dir) {
  const fs::path path = policy_path(config_dir);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (fs::exists(path, ec)) throw PolicyError("cannot read " + path.string());
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return policy_from_json(text.str());
  } catch (const PolicyError& e) {
    throw PolicyError(path.string() + ": " + e.what());
  }
}

}  // namespace remsh::agent
