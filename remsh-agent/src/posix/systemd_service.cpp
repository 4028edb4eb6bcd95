#include "platform/service_install.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <system_error>
#include <vector>

namespace remsh::agent {
namespace fs = std::filesystem;

namespace {

int complain(const std::string& text, int code) {
  std::cerr << "remsh-agent: " << text << "\n";
  return code;
}

bool have_systemctl() {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    if (access((std::string(dir) + "/systemctl").c_str(), X_OK) == 0) return true;
  }
  return false;
}

// Runs systemctl with these arguments; its exit status (or -1).
int systemctl(std::initializer_list<const char*> args) {
  std::cout << "running: systemctl";
  for (const char* a : args) std::cout << " " << a;
  std::cout << std::endl;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>("systemctl")};
    for (const char* a : args) argv.push_back(const_cast<char*>(a));
    argv.push_back(nullptr);
    execvp("systemctl", argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

fs::path unit_path(const ServiceInstallOptions& o) { return o.unit_dir / (o.name + ".service"); }

}  // namespace

int install_service(const ServiceInstallOptions& o) {
  if (o.user.empty()) return complain("--user is required: the agent runs as an unprivileged user", 2);
  struct passwd* pw = getpwnam(o.user.c_str());
  if (pw == nullptr) return complain("no user named " + o.user + " on this host", 1);
  if (pw->pw_uid == 0) {
    std::cerr << "remsh-agent: warning: the service will run as root; commands from the master "
                 "will have full control of this machine\n";
  }
  struct stat st {};
  const fs::path agent_json = o.config_dir / "agent.json";
  if (stat(agent_json.c_str(), &st) != 0) {
    return complain("no " + agent_json.string() + ": enrol first (remsh-agent enroll TOKEN --config-dir DIR)", 1);
  }
  if (st.st_uid != pw->pw_uid) {
    std::cerr << "remsh-agent: warning: " << agent_json.string() << " is not owned by " << o.user
              << ", who cannot read it; run: chown -R " << o.user << " " << o.config_dir.string()
              << " (and the work directory)\n";
  }
  const fs::path path = unit_path(o);
  std::error_code ec;
  fs::create_directories(o.unit_dir, ec);
  const fs::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << o.unit_text;
    out.close();
    if (!out) return complain("cannot write " + temp.string(), 1);
  }
  fs::permissions(temp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read, ec);
  fs::rename(temp, path, ec);
  if (ec) return complain("cannot write " + path.string() + ": " + ec.message(), 1);
  std::cout << "wrote " << path.string() << "\n";
  if (!o.enable) return 0;
  if (!have_systemctl()) {
    std::cout << "systemctl not found: enable the unit yourself\n";
    return 0;
  }
  if (systemctl({"daemon-reload"}) != 0 || systemctl({"enable", "--now", (o.name + ".service").c_str()}) != 0) {
    return complain("systemctl failed; the unit file is in place", 1);
  }
  return 0;
}

int uninstall_service(const ServiceInstallOptions& o) {
  const fs::path path = unit_path(o);
  std::error_code ec;
  if (!fs::exists(path, ec)) return complain("no " + path.string() + " (nothing to remove)", 1);
  if (o.enable && have_systemctl()) systemctl({"disable", "--now", (o.name + ".service").c_str()});
  if (!fs::remove(path, ec) || ec) return complain("cannot remove " + path.string() + ": " + ec.message(), 1);
  std::cout << "removed " << path.string() << "\n";
  if (o.enable && have_systemctl()) systemctl({"daemon-reload"});
  return 0;
}

}  // namespace remsh::agent
