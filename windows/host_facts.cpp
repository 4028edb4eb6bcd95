// platform/host_facts.hpp on Windows: version from RtlGetVersion (GetVersionEx lies to
// programs without a manifest), CPUs, memory, the computer name and free disk space.
#include "platform/host_facts.hpp"

#include <windows.h>

#include "wide.hpp"

namespace remsh::agent {

namespace {
using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOW*);
}

boost::json::object host_facts(const std::filesystem::path& work_dir) {
  boost::json::object facts;
  OSVERSIONINFOW v{};
  v.dwOSVersionInfoSize = sizeof v;
  if (HMODULE ntdll = GetModuleHandleW(L"ntdll.dll")) {
    auto get = reinterpret_cast<RtlGetVersionFn>(reinterpret_cast<void*>(GetProcAddress(ntdll, "RtlGetVersion")));
    if (get && get(&v) == 0) {
      facts["os"] = "Windows " + std::to_string(v.dwMajorVersion) + "." + std::to_string(v.dwMinorVersion) + "." +
                    std::to_string(v.dwBuildNumber);
    }
  }
  if (!facts.contains("os")) facts["os"] = "Windows";
  SYSTEM_INFO si{};
  GetNativeSystemInfo(&si);
  facts["arch"] = si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_ARM64 ? "arm64"
                  : si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_AMD64 ? "x86_64"
                                                                               : "x86";
  facts["cpus"] = static_cast<std::int64_t>(si.dwNumberOfProcessors);
  MEMORYSTATUSEX memory{};
  memory.dwLength = sizeof memory;
  if (GlobalMemoryStatusEx(&memory)) facts["memory_mb"] = static_cast<std::int64_t>(memory.ullTotalPhys / (1024 * 1024));
  wchar_t name[MAX_COMPUTERNAME_LENGTH + 1];
  DWORD size = MAX_COMPUTERNAME_LENGTH + 1;
  if (GetComputerNameW(name, &size)) facts["hostname"] = win::narrow(std::wstring_view(name, size));
  ULARGE_INTEGER free_bytes{};
  if (GetDiskFreeSpaceExW(work_dir.wstring().c_str(), &free_bytes, nullptr, nullptr)) {
    facts["disk_free_mb"] = static_cast<std::int64_t>(free_bytes.QuadPart / (1024 * 1024));
  }
  return facts;
}

}  // namespace remsh::agent
