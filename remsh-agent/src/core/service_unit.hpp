// The systemd unit that `remsh-agent install-service` writes: runs `remsh-agent run` as an
// unprivileged user, restarts it when it fails, and stops it the way the agent expects
// (SIGTERM to the agent, which ends its commands' process trees itself).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace remsh::agent {

struct ServiceUnitOptions {
  std::string user;                    // runs as this user (never root unless asked)
  std::filesystem::path agent_binary;  // absolute
  std::filesystem::path config_dir;    // absolute
  std::vector<std::string> run_args;   // more arguments of `remsh-agent run` (policy flags)
};

// The unit file's text.
std::string systemd_unit(const ServiceUnitOptions& options);

// One argument quoted for a systemd ExecStart= line (systemd.service(5), "Command lines").
std::string systemd_quote(const std::string& arg);

}  // namespace remsh::agent
