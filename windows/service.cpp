// The agent as a Windows service: running under the Service Control Manager (service.hpp)
// and platform/service_install.hpp's install-service / uninstall-service.
//
// The service runs as LocalSystem: a service under another account needs that account's
// password or a virtual account with access granted to the config and work directories,
// which this version does not manage (`--user` is refused rather than ignored).
#include "service.hpp"

#include "platform/service_install.hpp"

#include <windows.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "command_line.hpp"
#include "stop_events.hpp"
#include "wide.hpp"

namespace remsh::agent {

namespace {

// ---- running under the SCM ----

struct ServiceRun {
  std::wstring name;
  int argc = 0;
  char** argv = nullptr;
  const AgentMain* agent_main = nullptr;
  SERVICE_STATUS_HANDLE status_handle = nullptr;
  SERVICE_STATUS status{};
  int exit_code = 0;
};
ServiceRun run;  // the dispatcher's callbacks take no context pointer of ours

void report(DWORD state, DWORD exit_code = NO_ERROR, DWORD wait_hint_ms = 0) {
  run.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  run.status.dwCurrentState = state;
  run.status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  run.status.dwWin32ExitCode = exit_code == NO_ERROR ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  run.status.dwServiceSpecificExitCode = exit_code;
  run.status.dwWaitHint = wait_hint_ms;
  if (run.status_handle) SetServiceStatus(run.status_handle, &run.status);
}

DWORD WINAPI control(DWORD code, DWORD, void*, void*) {
  switch (code) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN: {
      report(SERVICE_STOP_PENDING, NO_ERROR, 30000);
      // The running agent listens on this event (stop_requests.cpp); created here if the
      // agent has not made it yet, so an early stop is not lost.
      HANDLE event = CreateEventW(nullptr, FALSE, FALSE, win::stop_event_name(GetCurrentProcessId(), false).c_str());
      if (event) {
        SetEvent(event);
        // Kept open: an event with no handle left would vanish before the agent opens it.
      }
      return NO_ERROR;
    }
    case SERVICE_CONTROL_INTERROGATE: return NO_ERROR;
    default: return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, LPWSTR*) {
  run.status_handle = RegisterServiceCtrlHandlerExW(run.name.c_str(), control, nullptr);
  if (!run.status_handle) return;
  report(SERVICE_START_PENDING, NO_ERROR, 10000);
  report(SERVICE_RUNNING);
  run.exit_code = (*run.agent_main)(run.argc, run.argv);
  std::fflush(stderr);
  report(SERVICE_STOPPED, static_cast<DWORD>(run.exit_code));
}

// ---- install / uninstall ----

struct ScHandle {
  SC_HANDLE h = nullptr;
  explicit ScHandle(SC_HANDLE handle) : h(handle) {}
  ~ScHandle() {
    if (h) CloseServiceHandle(h);
  }
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;
};

int complain(const std::string& what, DWORD error, int code = 1) {
  std::cerr << "remsh-agent: " << what << ": " << win::error_text(error) << "\n";
  return code;
}

std::wstring this_exe() {
  std::wstring path(32768, L'\0');
  const DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  path.resize(n);
  return path;
}

// Waits (bounded) until the service is in `state`.
bool wait_for_state(SC_HANDLE service, DWORD state, int seconds) {
  SERVICE_STATUS status{};
  for (int i = 0; i < seconds * 10; ++i) {
    if (!QueryServiceStatus(service, &status)) return false;
    if (status.dwCurrentState == state) return true;
    Sleep(100);
  }
  return false;
}

}  // namespace

int run_as_service(const std::string& name, int argc, char** argv, const AgentMain& agent_main) {
  run.name = win::widen(name);
  run.argc = argc;
  run.argv = argv;
  run.agent_main = &agent_main;
  SERVICE_TABLE_ENTRYW table[] = {{run.name.data(), service_main}, {nullptr, nullptr}};
  if (!StartServiceCtrlDispatcherW(table)) {
    // ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: started from a console, not by the SCM.
    return complain("--service is for the Service Control Manager (use `remsh-agent run` from a console)",
                    GetLastError());
  }
  return run.exit_code;
}

int install_service(const ServiceInstallOptions& o) {
  if (!o.user.empty()) {
    std::cerr << "remsh-agent: --user is not supported on Windows: the service runs as LocalSystem\n";
    return 2;
  }
  if (GetFileAttributesW((o.config_dir / "agent.json").wstring().c_str()) == INVALID_FILE_ATTRIBUTES) {
    std::cerr << "remsh-agent: " << o.config_dir.string() << " has no agent.json: enrol first (remsh-agent enroll)\n";
    return 1;
  }
  std::wstring command = win::quote_argument(this_exe()) + L" " + win::widen(kServiceFlag) + L" " +
                         win::quote_argument(win::widen(o.name)) + L" run --config-dir " +
                         win::quote_argument(o.config_dir.wstring()) + L" --log-file " +
                         win::quote_argument((o.config_dir / "agent.log").wstring());
  for (const std::string& arg : o.run_args) command += L" " + win::quote_argument(win::widen(arg));
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (!scm.h) return complain("cannot open the Service Control Manager (run as an administrator)", GetLastError());
  const std::wstring display = L"remsh agent (" + o.config_dir.wstring() + L")";
  ScHandle service(CreateServiceW(scm.h, win::widen(o.name).c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                                  SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, command.c_str(),
                                  nullptr, nullptr, nullptr, nullptr, nullptr));
  if (!service.h) return complain("cannot create the service " + o.name, GetLastError());
  std::wstring about = L"Runs commands for a remsh master (remsh-agent, config in " + o.config_dir.wstring() + L")";
  SERVICE_DESCRIPTIONW description{about.data()};
  ChangeServiceConfig2W(service.h, SERVICE_CONFIG_DESCRIPTION, &description);
  std::cout << "installed the service " << o.name << " (starts at boot): " << win::narrow(command) << "\n";
  if (!o.enable) return 0;
  if (!StartServiceW(service.h, 0, nullptr)) return complain("installed, but cannot start " + o.name, GetLastError());
  if (!wait_for_state(service.h, SERVICE_RUNNING, 10)) {
    std::cerr << "remsh-agent: the service " << o.name << " did not report running within 10 s; see "
              << (o.config_dir / "agent.log").string() << "\n";
    return 1;
  }
  std::cout << "started " << o.name << "; its log: " << (o.config_dir / "agent.log").string() << "\n";
  return 0;
}

int uninstall_service(const ServiceInstallOptions& o) {
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.h) return complain("cannot open the Service Control Manager (run as an administrator)", GetLastError());
  ScHandle service(OpenServiceW(scm.h, win::widen(o.name).c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
  if (!service.h) return complain("no service " + o.name, GetLastError());
  SERVICE_STATUS status{};
  if (o.enable && QueryServiceStatus(service.h, &status) && status.dwCurrentState != SERVICE_STOPPED) {
    ControlService(service.h, SERVICE_CONTROL_STOP, &status);
    if (!wait_for_state(service.h, SERVICE_STOPPED, 30)) {
      std::cerr << "remsh-agent: " << o.name << " did not stop within 30 s; removing it anyway\n";
    } else {
      std::cout << "stopped " << o.name << "\n";
    }
  }
  if (!DeleteService(service.h)) return complain("cannot remove the service " + o.name, GetLastError());
  std::cout << "removed the service " << o.name << "\n";
  return 0;
}

}  // namespace remsh::agent
