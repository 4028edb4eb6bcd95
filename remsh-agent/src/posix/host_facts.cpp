#include "platform/host_facts.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <string>

namespace remsh::agent {

boost::json::object host_facts() {
  boost::json::object facts;
  struct utsname u {};
  if (uname(&u) == 0) {
    facts["os"] = std::string(u.sysname) + " " + u.release;
    facts["arch"] = u.machine;
    facts["hostname"] = u.nodename;
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) facts["cpus"] = cpus;
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    facts["memory_mb"] = static_cast<std::int64_t>(pages) * page_size / (1024 * 1024);
  }
  return facts;
}

}  // namespace remsh::agent
