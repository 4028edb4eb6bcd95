// AgentConfig: what `remsh-agent enroll` saves and `remsh-agent run` loads: DIR/agent.json.
//
//   {"master":"host:port","fingerprint":"<64 hex>","plaintext":false,"name":"builder-1",
//    "secret":"<64 hex>","work_dir":"/abs/path"}
//
// The file holds the agent's secret, so it is written private (0600) and atomically
// (platform/private_file.hpp).
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace remsh::agent {

struct AgentConfig {
  std::string master;       // "host:port"
  std::string fingerprint;  // SHA-256 of the master's certificate, lowercase hex; "" if plaintext
  bool plaintext = false;   // the master speaks plain TCP (loopback tests only)
  std::string name;
  std::string secret;               // 64 lowercase hex digits
  std::filesystem::path work_dir;  // absolute; where exec channels run
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
