// remsh-agent: the agent program. Two commands:
//   remsh-agent enroll TOKEN --config-dir DIR [--name NAME] [--work-dir DIR] [--insecure-plaintext]
//   remsh-agent run --config-dir DIR [--insecure-plaintext]
// Exit codes: 0 success, 1 failure (refused, unreachable, bad config), 2 bad usage.
#include "core/agent_config.hpp"
#include "core/agent_runner.hpp"
#include "core/enroll.hpp"
#include "core/log.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>

namespace {

namespace asio = boost::asio;
using namespace remsh::agent;

int run_agent(const std::filesystem::path& config_dir, bool allow_plaintext) {
  RunnerOptions options;
  try {
    options.config = load_config(config_dir);
  } catch (const ConfigError& e) {
    std::cerr << "remsh-agent: " << e.what() << "\n";
    return 1;
  }
  if (options.config.plaintext && !allow_plaintext) {
    std::cerr << "remsh-agent: " << options.config.master
              << " is a master without TLS; pass --insecure-plaintext to connect unencrypted "
                 "(meant for loopback tests only)\n";
    return 2;
  }
  options.allow_plaintext = allow_plaintext;
  std::error_code ec;
  std::filesystem::create_directories(options.config.work_dir, ec);  // a missing one only fails execs

  asio::io_context io;
  AgentRunner runner(io.get_executor(), options);
  // SIGTERM/SIGINT: kill the process trees, say goodbye, exit 0.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int signal_number) {
    if (error) return;
    log_line(std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
    runner.stop();
  });
  int code = 0;
  log_line("remsh-agent " REMSH_VERSION " starting as " + options.config.name + " for " + options.config.master);
  asio::co_spawn(io, runner.run(), [&](std::exception_ptr e) {
    signals.cancel();
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_line(std::string("fatal: ") + ex.what());
      code = 1;
    }
  });
  io.run();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"remsh-agent: runs commands for a remsh master"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "remsh-agent " REMSH_VERSION);

  EnrollOptions enroll_options;
  std::string name, work_dir, enroll_dir;
  auto* enroll_cmd = app.add_subcommand("enroll", "Trade an enrollment token for this agent's credentials");
  enroll_cmd->add_option("token", enroll_options.token, "the token from `remsh token create`")->required();
  enroll_cmd->add_option("--config-dir", enroll_dir, "where to save agent.json")->required();
  enroll_cmd->add_option("--name", name, "the agent's name (default: the host name)");
  enroll_cmd->add_option("--work-dir", work_dir, "where commands run and the root of every relative path the master gives (default: CONFIG_DIR/work)");
  std::vector<std::string> allow_paths;
  enroll_cmd->add_option("--allow-path", allow_paths,
                         "let the master's file operations reach this directory outside the work "
                         "directory too (repeat for several; saved in agent.json, which only the "
                         "owner can change)")
      ->allow_extra_args(false)
      ->type_name("DIR");
  enroll_cmd->add_flag("--insecure-plaintext", enroll_options.allow_plaintext,
                       "accept a token for a master without TLS (loopback tests only)");

  std::string run_dir;
  bool run_plaintext = false;
  auto* run_cmd = app.add_subcommand("run", "Connect to the master and run what it asks, until SIGTERM");
  run_cmd->add_option("--config-dir", run_dir, "the directory given to enroll")->required();
  run_cmd->add_flag("--insecure-plaintext", run_plaintext,
                    "allow an unencrypted connection if the config says so (loopback tests only)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (enroll_cmd->parsed()) {
    enroll_options.config_dir = enroll_dir;
    if (!name.empty()) enroll_options.name = name;
    if (!work_dir.empty()) enroll_options.work_dir = work_dir;
    for (const auto& p : allow_paths) enroll_options.allowed_paths.emplace_back(p);
    return enroll(enroll_options);
  }
  return run_agent(run_dir, run_plaintext);
}
