// platform/service_install.hpp on Windows: not available yet. A Windows service needs the
// agent to run under StartServiceCtrlDispatcherW, which this build does not do; rather than
// register a service that the SCM could not start, the commands say so and fail.
#include "platform/service_install.hpp"

#include <cstdio>

namespace remsh::agent {

namespace {
int unavailable(const char* what) {
  std::fprintf(stderr,
               "remsh-agent: %s is not available on Windows in this version; run the agent from a "
               "scheduled task or a console (remsh-agent run --config-dir DIR) instead\n",
               what);
  return 2;
}
}  // namespace

int install_service(const ServiceInstallOptions&) { return unavailable("install-service"); }
int uninstall_service(const ServiceInstallOptions&) { return unavailable("uninstall-service"); }

}  // namespace remsh::agent
