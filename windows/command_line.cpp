#include "command_line.hpp"

#include <windows.h>

#include <algorithm>
#include <cwctype>

#include "wide.hpp"

namespace remsh::agent::win {

std::wstring quote_argument(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) return arg;
  std::wstring out = L"\"";
  std::size_t backslashes = 0;
  for (const wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    // Backslashes before a quote are doubled, and the quote itself escaped; elsewhere they
    // are literal.
    out.append(c == L'"' ? backslashes * 2 + 1 : backslashes, L'\\');
    backslashes = 0;
    out.push_back(c);
  }
  // Before the closing quote, every backslash is doubled so none escapes it.
  out.append(backslashes * 2, L'\\');
  out.push_back(L'"');
  return out;
}

std::wstring build_command_line(const std::vector<std::string>& argv) {
  const bool cmd_line = argv.size() == 5 && argv[1] == "/d" && argv[2] == "/s" && argv[3] == "/c";
  std::wstring line;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) line.push_back(L' ');
    if (cmd_line && i == 4) {
      line += L"\"" + widen(argv[i]) + L"\"";
    } else {
      line += quote_argument(widen(argv[i]));
    }
  }
  return line;
}

std::wstring Environment::key(const std::wstring& name) {
  std::wstring k = name;
  std::transform(k.begin(), k.end(), k.begin(), [](wchar_t c) { return static_cast<wchar_t>(std::towupper(c)); });
  return k;
}

Environment Environment::current() {
  Environment env;
  wchar_t* block = GetEnvironmentStringsW();
  if (block) {
    env.parse_block(block);
    FreeEnvironmentStringsW(block);
  }
  return env;
}

void Environment::parse_block(const wchar_t* block) {
  for (const wchar_t* p = block; *p; p += std::wcslen(p) + 1) {
    const std::wstring entry(p);
    // "=C:=C:\dir" entries (cmd.exe's per-drive directories) start with '=': keep them whole.
    const std::size_t eq = entry.find(L'=', 1);
    if (eq == std::wstring::npos) continue;
    set(entry.substr(0, eq), entry.substr(eq + 1));
  }
}

void Environment::set(const std::wstring& name, const std::wstring& value) {
  auto [it, inserted] = vars_.try_emplace(key(name), name, value);
  if (!inserted) it->second.second = value;
}

void Environment::unset(const std::wstring& name) { vars_.erase(key(name)); }

std::optional<std::wstring> Environment::get(const std::wstring& name) const {
  auto it = vars_.find(key(name));
  if (it == vars_.end()) return std::nullopt;
  return it->second.second;
}

std::wstring Environment::block() const {
  std::wstring out;
  for (const auto& [k, entry] : vars_) {  // the map's order is by upper-cased name
    out += entry.first + L"=" + entry.second;
    out.push_back(L'\0');
  }
  if (out.empty()) out.push_back(L'\0');  // an empty block still ends with two NULs
  out.push_back(L'\0');
  return out;
}

}  // namespace remsh::agent::win
