#include "platform/host_facts.hpp"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace remsh::agent {

namespace {

// "Debian GNU/Linux 12 (bookworm)" from /etc/os-release, when there is one.
std::string distribution() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string value = line.substr(12);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return {};
}

}  // namespace

boost::json::object host_facts(const std::filesystem::path& work_dir) {
  boost::json::object facts;
  struct utsname u {};
  if (uname(&u) == 0) {
    facts["os"] = std::string(u.sysname) + " " + u.release;
    facts["arch"] = u.machine;
    facts["hostname"] = u.nodename;
  }
  if (std::string d = distribution(); !d.empty()) facts["os_version"] = d;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) facts["cpus"] = cpus;
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    facts["memory_mb"] = static_cast<std::int64_t>(pages) * page_size / (1024 * 1024);
  }
  struct statvfs fs {};
  if (statvfs(work_dir.c_str(), &fs) == 0) {
    facts["disk_free_mb"] = static_cast<std::int64_t>(fs.f_bavail * fs.f_frsize / (1024 * 1024));
  }
  return facts;
}

}  // namespace remsh::agent
