// The systemd unit `remsh-agent install-service` writes.
#include "core/service_unit.hpp"

#include <catch2/catch.hpp>

using namespace remsh::agent;

TEST_CASE("service unit: runs the agent as the user with its config dir", "[service]") {
  ServiceUnitOptions o;
  o.user = "remsh";
  o.agent_binary = "/usr/local/bin/remsh-agent";
  o.config_dir = "/home/remsh/agent";
  o.run_args = {"--max-concurrent=2"};
  const std::string unit = systemd_unit(o);
  CHECK(unit.find("\n[Service]\n") != std::string::npos);
  CHECK(unit.find("\nUser=remsh\n") != std::string::npos);
  CHECK(unit.find("\nExecStart=\"/usr/local/bin/remsh-agent\" run --config-dir \"/home/remsh/agent\" "
                  "\"--max-concurrent=2\"\n") != std::string::npos);
  CHECK(unit.find("\nRestart=on-failure\n") != std::string::npos);
  CHECK(unit.find("\nRestartPreventExitStatus=3\n") != std::string::npos);  // revoked: for good
  CHECK(unit.find("\nKillMode=mixed\n") != std::string::npos);
  CHECK(unit.find("\nWantedBy=multi-user.target\n") != std::string::npos);
}

TEST_CASE("service unit: arguments are quoted for systemd", "[service]") {
  CHECK(systemd_quote("plain") == "\"plain\"");
  CHECK(systemd_quote("with space") == "\"with space\"");
  CHECK(systemd_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(systemd_quote("100%") == "\"100%%\"");
  CHECK(systemd_quote("$HOME") == "\"$$HOME\"");
}
