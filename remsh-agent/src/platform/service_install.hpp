// `remsh-agent install-service` / `uninstall-service`: make the agent a system service of
// the host (Linux: a systemd unit; Windows: a service of the Service Control Manager). Returns the process exit code and prints what it did.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace remsh::agent {

struct ServiceInstallOptions {
  std::string user;                     // the service's user: must exist and own config_dir
  std::filesystem::path config_dir;
  std::string unit_text;                // core/service_unit.hpp
  std::vector<std::string> run_args;    // more arguments for `remsh-agent run` (Windows)
  std::string name = "remsh-agent";                      // the unit is NAME.service
  std::filesystem::path unit_dir = "/etc/systemd/system";
  bool enable = true;  // systemctl daemon-reload + enable --now, when systemctl exists
};

int install_service(const ServiceInstallOptions& options);
int uninstall_service(const ServiceInstallOptions& options);

}  // namespace remsh::agent
