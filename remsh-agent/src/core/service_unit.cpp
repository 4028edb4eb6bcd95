#include "core/service_unit.hpp"

namespace remsh::agent {

std::string systemd_quote(const std::string& arg) {
  std::string out = "\"";
  for (char c : arg) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '%') {
      out += "%%";  // specifiers
    } else if (c == '$') {
      out += "$$";  // environment variable expansion
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string systemd_unit(const ServiceUnitOptions& o) {
  std::string exec = systemd_quote(o.agent_binary.string()) + " run --config-dir " +
                     systemd_quote(o.config_dir.string());
  for (const auto& a : o.run_args) exec += " " + systemd_quote(a);
  return "# Written by `remsh-agent install-service`; `remsh-agent uninstall-service` removes it.\n"
         "[Unit]\n"
         "Description=remsh agent (" + o.config_dir.string() + ")\n"
         "Wants=network-online.target\n"
         "After=network-online.target\n"
         "\n"
         "[Service]\n"
         "Type=simple\n"
         "User=" + o.user + "\n"
         "ExecStart=" + exec + "\n"
         // The agent ends its commands' process trees on SIGTERM; systemd cleans up the
         // rest of the group only after that.
         "KillMode=mixed\n"
         "TimeoutStopSec=30\n"
         "Restart=on-failure\n"
         "RestartSec=5\n"
         // 3: the master refused the agent for good (revoked): restarting cannot help.
         "RestartPreventExitStatus=3\n"
         "NoNewPrivileges=yes\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

}  // namespace remsh::agent
