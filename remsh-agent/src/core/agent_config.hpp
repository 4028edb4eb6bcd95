// AgentConfig: what `remsh-agent enroll` saves and `remsh-agent run` loads: DIR/agent.json.
//
//   {"master":"host:port","fingerprint":"<64 hex>","plaintext":false,"name":"builder-1",
//    "secret":"<64 hex>","work_dir":"/abs/path","allowed_paths":["/abs/extra"],
//    "admin":"Ann <ann@example.org>","description":"Ann's spare laptop","labels":["gpu"]}
//
// `allowed_paths` is the owner's say over the agent's file operations: absolute places
// outside the work directory that the master may read and write (docs/protocol.md 9.6).
// The master cannot change it.
//
// The file holds the agent's secret, so it is written private (0600) and atomically
// (platform/private_file.hpp).
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace remsh::agent {

struct AgentConfig {
  std::string master;       // "host:port"
  std::string fingerprint;  // SHA-256 of the master's certificate, lowercase hex; "" if plaintext
  bool plaintext = false;   // the master speaks plain TCP (loopback tests only)
  std::string name;
  std::string secret;               // 64 lowercase hex digits
  std::filesystem::path work_dir;  // absolute; where exec channels run
  std::vector<std::filesystem::path> allowed_paths;  // absolute; extra roots for fs channels
  // The owner's own words, reported to the master with the host facts.
  std::string admin;                // contact: "Name <mail>"
  std::string description;
  std::vector<std::string> labels;  // added to the token's labels
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::filesystem::path config_path(const std::filesystem::path& config_dir);

// Creates the directory if needed (private) and writes agent.json. Throws ConfigError.
void save_config(const std::filesystem::path& config_dir, const AgentConfig& config);
// Reads and validates agent.json. Throws ConfigError naming the file and the problem.
AgentConfig load_config(const std::filesystem::path& config_dir);

std::string config_to_json(const AgentConfig& config);
// Throws ConfigError (without the file name).
AgentConfig config_from_json(const std::string& text);

}  // namespace remsh::agent
