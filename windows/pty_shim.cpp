#include "pty_shim.hpp"

#include <windows.h>

#include <cstring>
#include <cwchar>

#include "command_line.hpp"
#include "wide.hpp"

namespace remsh::agent {

namespace {

std::wstring this_exe() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n < path.size()) {
      path.resize(n);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

// What follows `--pty-shim ` in this process's own command line, untouched (re-parsing it
// into an argv and quoting it again could change it).
std::wstring command_after_flag() {
  const std::wstring line = GetCommandLineW();
  const std::wstring flag = win::widen(kPtyShimFlag);
  const std::size_t at = line.find(L" " + flag + L" ");
  return at == std::wstring::npos ? std::wstring() : line.substr(at + flag.size() + 2);
}

}  // namespace

std::wstring pty_shim_command_line(const std::wstring& command_line) {
  return win::quote_argument(this_exe()) + L" " + win::widen(kPtyShimFlag) + L" " + command_line;
}

int run_pty_shim() {
  std::wstring command = command_after_flag();
  if (command.empty()) {
    std::fputs("remsh-agent --pty-shim: no command line\n", stderr);
    return 2;
  }
  SECURITY_ATTRIBUTES inherit{sizeof inherit, nullptr, TRUE};
  HANDLE in = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                          OPEN_EXISTING, 0, nullptr);
  HANDLE out = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                           OPEN_EXISTING, 0, nullptr);
  if (in == INVALID_HANDLE_VALUE || out == INVALID_HANDLE_VALUE) {
    std::fprintf(stderr, "remsh-agent --pty-shim: no console: %s\n", win::error_text(GetLastError()).c_str());
    return 126;
  }
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = in;
  si.hStdOutput = out;
  si.hStdError = out;
  PROCESS_INFORMATION pi{};
  if (!CreateProcessW(nullptr, command.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi)) {
    const std::string why = win::error_text(GetLastError());
    const std::string text = "remsh-agent: cannot start " + win::narrow(command) + ": " + why + "\r\n";
    DWORD written = 0;
    WriteFile(out, text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
    return 127;
  }
  CloseHandle(pi.hThread);
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hProcess);
  return static_cast<int>(code);
}

}  // namespace remsh::agent
