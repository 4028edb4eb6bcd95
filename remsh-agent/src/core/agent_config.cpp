#include "core/agent_config.hpp"
#include "core/utf8_path.hpp"

#include "platform/private_file.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace remsh::agent {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

bool is_hex(const std::string& s, std::size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

const json::value* member(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() || it->value().is_null() ? nullptr : &it->value();
}

std::string string_field(const json::object& o, const char* key, bool required) {
  const json::value* v = member(o, key);
  if (v == nullptr) {
    if (required) throw ConfigError(std::string("\"") + key + "\" is missing");
    return {};
  }
  if (!v->is_string()) throw ConfigError(std::string("\"") + key + "\" must be a string");
  return std::string(v->get_string());
}

}  // namespace

fs::path config_path(const fs::path& config_dir) { return config_dir / "agent.json"; }

std::string config_to_json(const AgentConfig& c) {
  json::object o{{"master", c.master},   {"fingerprint", c.fingerprint},
                 {"plaintext", c.plaintext}, {"name", c.name},
                 {"secret", c.secret},   {"work_dir", utf8_string(c.work_dir)}};
  if (!c.allowed_paths.empty()) {
    json::array paths;
    for (const auto& p : c.allowed_paths) paths.emplace_back(utf8_string(p));
    o["allowed_paths"] = std::move(paths);
  }
  if (!c.admin.empty()) o["admin"] = c.admin;
  if (!c.description.empty()) o["description"] = c.description;
  if (!c.labels.empty()) {
    json::array labels;
    for (const auto& l : c.labels) labels.emplace_back(l);
    o["labels"] = std::move(labels);
  }
  return json::serialize(o) + "\n";
}

AgentConfig config_from_json(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) throw ConfigError("not a JSON object");
  const json::object& o = v.get_object();
  AgentConfig c;
  c.master = string_field(o, "master", true);
  c.fingerprint = string_field(o, "fingerprint", false);
  c.name = string_field(o, "name", true);
  c.secret = string_field(o, "secret", true);
  c.work_dir = utf8_path(string_field(o, "work_dir", true));
  if (const json::value* p = member(o, "plaintext")) {
    if (!p->is_bool()) throw ConfigError("\"plaintext\" must be true or false");
    c.plaintext = p->get_bool();
  }
  if (const json::value* p = member(o, "allowed_paths")) {
    if (!p->is_array()) throw ConfigError("\"allowed_paths\" must be an array of absolute paths");
    for (const auto& e : p->get_array()) {
      if (!e.is_string() || !utf8_path(e.get_string()).is_absolute()) {
        throw ConfigError("\"allowed_paths\" must be an array of absolute paths");
      }
      c.allowed_paths.push_back(utf8_path(e.get_string()));
    }
  }
  c.admin = string_field(o, "admin", false);
  c.description = string_field(o, "description", false);
  if (const json::value* p = member(o, "labels")) {
    if (!p->is_array()) throw ConfigError("\"labels\" must be an array of strings");
    for (const auto& e : p->get_array()) {
      if (!e.is_string() || e.get_string().empty()) throw ConfigError("\"labels\" must be an array of non-empty strings");
      c.labels.emplace_back(e.get_string());
    }
  }
  if (c.master.find(':') == std::string::npos) throw ConfigError("\"master\" must be host:port");
  if (c.name.empty()) throw ConfigError("\"name\" is empty");
  if (!is_hex(c.secret, 64)) throw ConfigError("\"secret\" must be 64 lowercase hex digits");
  if (!c.plaintext && !is_hex(c.fingerprint, 64)) {
    throw ConfigError("\"fingerprint\" must be 64 lowercase hex digits");
  }
  if (!c.work_dir.is_absolute()) throw ConfigError("\"work_dir\" must be an absolute path");
  return c;
}

void save_config(const fs::path& config_dir, const AgentConfig& config) {
  try {
    create_private_directory(config_dir);
    write_private_file(config_path(config_dir), config_to_json(config));
  } catch (const fs::filesystem_error& e) {
    throw ConfigError(std::string("cannot save ") + config_path(config_dir).string() + ": " + e.what());
  }
}

AgentConfig load_config(const fs::path& config_dir) {
  const fs::path path = config_path(config_dir);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read " + path.string() + " (run `remsh-agent enroll` first)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return config_from_json(text.str());
  } catch (const ConfigError& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
}

}  // namespace remsh::agent
