// `remsh-agent enroll TOKEN`: trades an enrolment token for the agent's credentials
// (docs/protocol.md 6.4) and saves them with the master's address and pinned certificate
// fingerprint in DIR/agent.json.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace remsh::agent {

struct EnrollOptions {
  std::string token;
  std::filesystem::path config_dir;
  std::optional<std::string> name;                 // default: the host name + a short random suffix
  std::optional<std::filesystem::path> work_dir;   // default: config_dir/work
  bool allow_plaintext = false;                    // --insecure-plaintext
  std::vector<std::filesystem::path> allowed_paths;  // --allow-path (made absolute)
  std::string admin;                                 // --admin "Name <mail>"
  std::string description;                           // --description
  std::vector<std::string> labels;                   // --label (the owner's own)
};

// Prints the outcome ("enrolled as NAME with MASTER", or "remsh-agent: ..." on stderr) and
// returns the process exit code: 0 enrolled, 1 refused or failed, 2 unusable input.
int enroll(const EnrollOptions& options);

}  // namespace remsh::agent
