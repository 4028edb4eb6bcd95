// Private files (platform/private_file.hpp) on Windows: the directory is created with a
// protected DACL that grants access to the agent's own account, SYSTEM and Administrators
// only, and files created inside inherit it; the file is written beside its destination,
// flushed and moved over it (MoveFileExW with REPLACE_EXISTING | WRITE_THROUGH).
#include "platform/private_file.hpp"

#include <windows.h>
#include <sddl.h>

#include <string>
#include <system_error>

#include "wide.hpp"

namespace remsh::agent {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& path, DWORD error) {
  throw fs::filesystem_error(what, path, std::error_code(static_cast<int>(error), std::system_category()));
}

// "O:owner D:P(A;OICI;FA;;;OW)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)": protected (no inherited
// entries), full access for the owner, SYSTEM and Administrators, inherited by what is inside.
std::wstring private_sddl() { return L"D:P(A;OICI;FA;;;OW)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"; }

}  // namespace

void create_private_directory(const fs::path& dir) {
  if (fs::is_directory(dir)) return;
  if (dir.has_parent_path() && !dir.parent_path().empty()) fs::create_directories(dir.parent_path());
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(private_sddl().c_str(), SDDL_REVISION_1, &sd, nullptr)) {
    fail("building a private security descriptor for", dir, GetLastError());
  }
  SECURITY_ATTRIBUTES sa{sizeof sa, sd, FALSE};
  const BOOL made = CreateDirectoryW(dir.wstring().c_str(), &sa);
  const DWORD error = GetLastError();
  LocalFree(sd);
  if (!made && error != ERROR_ALREADY_EXISTS) fail("creating directory", dir, error);
}

void write_private_file(const fs::path& path, std::string_view contents) {
  fs::path temp = path;
  temp += L".tmp." + std::to_wstring(GetCurrentProcessId());
  HANDLE h = CreateFileW(temp.wstring().c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) fail("creating file", temp, GetLastError());
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    DWORD written = 0;
    const DWORD chunk = left > (1u << 30) ? (1u << 30) : static_cast<DWORD>(left);
    if (!WriteFile(h, p, chunk, &written, nullptr)) {
      const DWORD error = GetLastError();
      CloseHandle(h);
      DeleteFileW(temp.wstring().c_str());
      fail("writing", temp, error);
    }
    p += written;
    left -= written;
  }
  const BOOL flushed = FlushFileBuffers(h);
  const DWORD flush_error = GetLastError();
  CloseHandle(h);
  if (!flushed) {
    DeleteFileW(temp.wstring().c_str());
    fail("writing", temp, flush_error);
  }
  if (!MoveFileExW(temp.wstring().c_str(), path.wstring().c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    const DWORD error = GetLastError();
    DeleteFileW(temp.wstring().c_str());
    fail("renaming to " + path.string(), temp, error);
  }
}

std::optional<std::string> writable_by_others(const fs::path&) { return std::nullopt; }

}  // namespace remsh::agent
