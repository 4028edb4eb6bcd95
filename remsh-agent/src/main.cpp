// remsh-agent: the agent program.
//   remsh-agent enroll TOKEN --config-dir DIR [--name NAME] [--work-dir DIR] [--admin ...] ...
//   remsh-agent run --config-dir DIR [policy flags] [--insecure-plaintext]
//   remsh-agent stop --config-dir DIR [--graceful] [--no-wait]
//   remsh-agent messages --config-dir DIR
//   remsh-agent install-service / uninstall-service --config-dir DIR --user USER
// Exit codes: 0 success, 1 failure (unreachable, bad config), 2 bad usage, 3 the master
// refused this agent for good (revoked, unknown): a service manager must not restart it.
#include "core/agent_config.hpp"
#include "core/agent_runner.hpp"
#include "core/enroll.hpp"
#include "core/log.hpp"
#include "core/owner_policy.hpp"
#include "core/service_unit.hpp"
#include "platform/helper_role.hpp"
#include "platform/private_file.hpp"
#include "platform/process_control.hpp"
#include "platform/stop_requests.hpp"
#include "platform/service_install.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <csignal>
#include <memory>
#include <cstring>
#include <cstdio>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

constexpr int kExitRefused = 3;  // the unit file does not restart on it (service_unit.cpp)

namespace {

namespace asio = boost::asio;
using namespace remsh::agent;

namespace fs = std::filesystem;

fs::path pid_path(const fs::path& config_dir) { return config_dir / "agent.pid"; }

long read_pid(const fs::path& config_dir) {
  std::ifstream in(pid_path(config_dir));
  long pid = 0;
  in >> pid;
  return in ? pid : 0;
}

// The process id of another live agent running with `config_dir`, or 0.
long running_agent(const fs::path& config_dir) {
  const long pid = read_pid(config_dir);
  return pid != 0 && pid != current_process_id() && process_exists(pid) ? pid : 0;
}

// The running agent's process id, so that `remsh-agent stop` can find it. Removed on exit.
class PidFile {
 public:
  explicit PidFile(fs::path path) : path_(std::move(path)) {
    std::ofstream(path_, std::ios::trunc) << current_process_id() << "\n";
  }
  ~PidFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  fs::path path_;
};

int run_agent(const fs::path& config_dir, bool allow_plaintext, const OwnerPolicy& flags) {
  RunnerOptions options;
  // The owner's policy and the credentials are only the owner's if nobody else can write them.
  for (const fs::path& path : {config_dir, config_dir / "policy.json", config_dir / "agent.json"}) {
    if (auto why = writable_by_others(path)) {
      std::cerr << "remsh-agent: insecure-config: " << *why << "\n";
      return 1;
    }
  }
  try {
    options.config = load_config(config_dir);
    options.policy = load_policy(config_dir);
  } catch (const ConfigError& e) {
    std::cerr << "remsh-agent: " << e.what() << "\n";
    return 1;
  } catch (const PolicyError& e) {
    std::cerr << "remsh-agent: " << e.what() << "\n";
    return 1;
  }
  options.policy.merge(flags);
  options.config_dir = config_dir;
  if (long other = running_agent(config_dir); other != 0) {
    std::cerr << "remsh-agent: an agent already runs with " << config_dir.string() << " (process " << other
              << "); stop it first (remsh-agent stop --config-dir " << config_dir.string() << ")\n";
    return 1;
  }
  PidFile pid_file(pid_path(config_dir));
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
  // SIGTERM/SIGINT (Windows: Ctrl-C, `remsh-agent stop`): kill the process trees, say
  // goodbye, exit 0. SIGUSR1 (`remsh-agent stop --graceful`): leave once idle.
  auto stop_requests = listen_for_stop_requests(io.get_executor(), [&](bool graceful, const std::string& what) {
    if (graceful) {
      log_line("asked to leave gracefully (" + what + ")");
      runner.leave();
    } else {
      log_line("received " + what);
      runner.stop();
    }
  });
  int code = 0;
  log_line("remsh-agent " REMSH_VERSION " starting as " + options.config.name + " for " + options.config.master);
  log_line("owner policy: " + boost::json::serialize(options.policy.to_json()));
  if (std::ifstream kept(config_dir / "messages.log"); kept) {
    log_line("messages from the master are kept in " + (config_dir / "messages.log").string());
  }
  asio::co_spawn(io, runner.run(), [&](std::exception_ptr e) {
    stop_requests->cancel();
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_line(std::string("fatal: ") + ex.what());
      code = 1;
    }
  });
  io.run();
  return runner.refused() ? kExitRefused : code;
}

int stop_agent(const fs::path& config_dir, bool graceful, bool wait, int timeout_s) {
  const long pid = running_agent(config_dir);
  if (pid == 0) {
    std::cerr << "remsh-agent: no agent runs with " << config_dir.string() << "\n";
    return 1;
  }
  if (auto error = request_stop(pid, graceful)) {
    std::cerr << "remsh-agent: cannot signal process " << pid << ": " << *error << "\n";
    return 1;
  }
  std::cout << (graceful ? "asked the agent (process " + std::to_string(pid) +
                               ") to leave gracefully: it finishes what runs, then exits"
                         : "asked the agent (process " + std::to_string(pid) + ") to stop")
            << std::endl;
  if (!wait) return 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (process_exists(pid)) {
    if (timeout_s > 0 && std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "remsh-agent: the agent is still running after " << timeout_s << " s\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << "the agent has exited" << std::endl;
  return 0;
}

int show_messages(const fs::path& config_dir) {
  if (std::error_code ec; !fs::exists(config_dir / "agent.json", ec)) {
    std::cerr << "remsh-agent: not-found: no agent is enrolled in " << config_dir.string()
              << " (no agent.json there)\n";
    return 1;
  }
  std::ifstream in(config_dir / "messages.log", std::ios::binary);
  if (!in) {
    std::cout << "no messages from the master\n";
    return 0;
  }
  std::cout << in.rdbuf();
  return 0;
}

}  // namespace

int agent_main(int argc, char** argv) {
  CLI::App app{"remsh-agent: runs commands for a remsh master"};
  app.require_subcommand(1);
  // Usage errors in the form of every other error ("remsh-agent: <tag>: <message>"), exit 2.
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    // "A subcommand is required" for a mistyped one: name what was not understood.
    if (e.get_name() == "RequiredError") {
      for (const std::string& word : a->remaining()) {
        if (!word.empty() && word[0] != '-') {
          return "remsh-agent: usage: unknown command '" + word + "'\nRun with --help for more information.\n";
        }
      }
    }
    return std::string("remsh-agent: usage: ") + CLI::FailureMessage::simple(a, e);
  });
  app.set_version_flag("--version", "remsh-agent " REMSH_VERSION);
  app.footer("Exit codes: 0 success; 1 failure (unreachable, refused enrollment, bad config); 2 bad usage;\n"
             "3 the master refused this agent for good (revoked, or replaced by another process with its\n"
             "credentials): its service is not restarted.");

  EnrollOptions enroll_options;
  std::string name, work_dir, enroll_dir;
  auto* enroll_cmd = app.add_subcommand("enroll", "Trade an enrollment token for this agent's credentials");
  enroll_cmd->add_option("token", enroll_options.token, "the token from `remsh token create`")->required();
  enroll_cmd->add_option("--config-dir", enroll_dir, "where to save agent.json")->required();
  enroll_cmd->add_option("--name", name, "the agent's name (default: the host name); when the master has one of that name already, it adds a short suffix (said on stderr)");
  bool enroll_force = false;
  enroll_cmd->add_flag("--force", enroll_force,
                       "replace the agent already enrolled in --config-dir (not while it runs)");
  enroll_cmd->add_option("--work-dir", work_dir, "where commands run and the root of every relative path the master gives (default: CONFIG_DIR/work)");
  std::vector<std::string> allow_paths;
  enroll_cmd->add_option("--allow-path", allow_paths,
                         "let the master's file operations reach this directory outside the work "
                         "directory too (repeat for several; saved in agent.json, which only the "
                         "owner can change)")
      ->allow_extra_args(false)
      ->type_name("DIR");
  enroll_cmd->add_option("--admin", enroll_options.admin,
                         "how the master's operators reach you, e.g. \"Ann <ann@example.org>\"");
  enroll_cmd->add_option("--description", enroll_options.description, "what this machine is, for the master's operators");
  enroll_cmd->add_option("--label", enroll_options.labels, "a label of your own for this agent (repeatable); added to the token's")
      ->allow_extra_args(false)
      ->type_name("LABEL");
  enroll_cmd->add_flag("--insecure-plaintext", enroll_options.allow_plaintext,
                       "accept a token for a master without TLS (loopback tests only)");

  std::string run_dir;
  bool run_plaintext = false;
  auto* run_cmd = app.add_subcommand("run", "Connect to the master and run what it asks, until SIGTERM");
  run_cmd->add_option("--config-dir", run_dir, "the directory given to enroll")->required();
  std::string run_log_file;
  run_cmd->add_option("--log-file", run_log_file, "append the log to FILE instead of writing it to stderr "
                                                  "(a Windows service has no stderr)");
  run_cmd->add_flag("--insecure-plaintext", run_plaintext,
                    "allow an unencrypted connection if the config says so (loopback tests only)");
  OwnerPolicy run_policy;
  std::vector<std::string> run_allow_paths;
  std::uint32_t max_concurrent = 0;
  run_cmd->add_flag("--allow-shell", run_policy.allow_shell,
                    "let the master's operators open a debug shell here (default: refused)");
  run_cmd->add_option("--max-concurrent", max_concurrent, "run at most N commands at once")
      ->check(CLI::Range(1, 1024))
      ->type_name("N");
  run_cmd->add_option("--allow-path", run_allow_paths,
                      "let file operations reach this directory outside the work directory (repeatable)")
      ->allow_extra_args(false)
      ->type_name("DIR");
  run_cmd->add_option("--deny-env", run_policy.deny_env,
                      "never pass this environment variable to commands (repeatable)")
      ->allow_extra_args(false)
      ->type_name("NAME");
  run_cmd->footer("The owner's policy also comes from CONFIG_DIR/policy.json, e.g.\n"
                  "  {\"allow_shell\": false, \"max_concurrent\": 2, \"deny_env\": [\"AWS_SECRET_ACCESS_KEY\"],\n"
                  "   \"allow_paths\": [\"/srv/cache\"], \"confine\": true}\n"
                  "Flags add to it; the master can never change it.\n"
                  "Signals: SIGTERM/SIGINT stop at once (running commands are killed); SIGUSR1 leaves\n"
                  "gracefully (see `remsh-agent stop --graceful`).");

  std::string stop_dir;
  bool stop_graceful = false, stop_no_wait = false;
  int stop_timeout = 0;
  auto* stop_cmd = app.add_subcommand("stop", "Stop the agent running with this config dir");
  stop_cmd->add_option("--config-dir", stop_dir, "the running agent's config dir")->required();
  stop_cmd->add_flag("--graceful", stop_graceful,
                     "finish the running commands first, accept nothing new, then exit; the master "
                     "shows the agent as leaving, not lost");
  stop_cmd->add_flag("--no-wait", stop_no_wait, "return at once instead of waiting for the agent to exit");
  stop_cmd->add_option("--timeout", stop_timeout, "give up waiting after this many seconds (default: 10, or no limit with --graceful)")
      ->type_name("SECONDS");

  std::string messages_dir;
  auto* messages_cmd = app.add_subcommand("messages", "Show the messages the master's operators sent to this agent's owner");
  messages_cmd->add_option("--config-dir", messages_dir, "the agent's config dir")->required();

  ServiceInstallOptions service;
  std::string service_dir;
  std::vector<std::string> service_args;
  bool service_no_enable = false;
  auto* install_cmd = app.add_subcommand("install-service", "Install the agent as a system service (Linux: a systemd unit running as an unprivileged --user; Windows: a service started at boot)");
  auto* uninstall_cmd = app.add_subcommand("uninstall-service", "Stop, disable and remove the agent's system service");
  for (auto* cmd : {install_cmd, uninstall_cmd}) {
    cmd->add_option("--config-dir", service_dir, "the agent's config dir (enrol first)")->required();
    cmd->add_option("--unit-name", service.name, "the unit's name (default: remsh-agent)");
    cmd->add_option("--unit-dir", service.unit_dir, "where unit files go (default: /etc/systemd/system)");
    cmd->add_flag("--no-enable", service_no_enable, "only write/remove the file: no systemctl");
  }
  install_cmd->add_option("--user", service.user, "the user the agent runs as (Linux: required)");
  install_cmd->add_option("--run-arg", service_args, "an extra argument for `remsh-agent run`, e.g. --run-arg=--max-concurrent=2 (repeatable)")
      ->allow_extra_args(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (enroll_cmd->parsed()) {
    // Enrolling replaces the identity saved there: a running agent would lose its secret
    // under it, and an enrolled one its place on its master.
    if (long running = running_agent(enroll_dir); running != 0) {
      std::cerr << "remsh-agent: exists: an agent runs with " << enroll_dir << " (process " << running
                << "); stop it first (remsh-agent stop --config-dir " << enroll_dir << ")\n";
      return 1;
    }
    if (std::error_code ec; fs::exists(fs::path(enroll_dir) / "agent.json", ec) && !enroll_force) {
      std::cerr << "remsh-agent: exists: " << enroll_dir
                << " already holds an enrolled agent; --force replaces it (its credentials are lost)\n";
      return 1;
    }
    enroll_options.config_dir = enroll_dir;
    if (!name.empty()) enroll_options.name = name;
    if (!work_dir.empty()) enroll_options.work_dir = work_dir;
    for (const auto& p : allow_paths) enroll_options.allowed_paths.emplace_back(p);
    return enroll(enroll_options);
  }
  if (stop_cmd->parsed()) {
    const int timeout = stop_cmd->count("--timeout") ? stop_timeout : (stop_graceful ? 0 : 10);
    return stop_agent(stop_dir, stop_graceful, !stop_no_wait, timeout);
  }
  if (messages_cmd->parsed()) return show_messages(messages_dir);
  if (install_cmd->parsed() || uninstall_cmd->parsed()) {
    service.config_dir = fs::absolute(service_dir).lexically_normal();
    service.enable = !service_no_enable;
    if (uninstall_cmd->parsed()) return uninstall_service(service);
    ServiceUnitOptions unit;
    unit.user = service.user;
    std::error_code ec;
    unit.agent_binary = fs::canonical("/proc/self/exe", ec);
    if (ec) unit.agent_binary = fs::absolute(argv[0]);
    unit.config_dir = service.config_dir;
    unit.run_args = service_args;
    service.run_args = service_args;
    service.unit_text = systemd_unit(unit);
    return install_service(service);
  }
  run_policy.max_concurrent = max_concurrent ? std::optional<std::uint32_t>(max_concurrent) : std::nullopt;
  for (const auto& p : run_allow_paths) run_policy.allow_paths.push_back(fs::absolute(p).lexically_normal());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log_file(nullptr, std::fclose);
  if (!run_log_file.empty()) {
    log_file.reset(std::fopen(run_log_file.c_str(), "a"));
    if (!log_file) {
      std::cerr << "remsh-agent: cannot open the log file " << run_log_file << ": " << std::strerror(errno) << "\n";
      return 1;
    }
    set_log_sink([file = log_file.get()](const std::string& line) {
      std::fprintf(file, "%s\n", line.c_str());
      std::fflush(file);
    });
  }
  const int code = run_agent(run_dir, run_plaintext, run_policy);
  set_log_sink(nullptr);
  return code;
}

int main(int argc, char** argv) {
  if (const std::optional<int> code = run_helper_role(argc, argv, agent_main)) return *code;
  return agent_main(argc, argv);
}
