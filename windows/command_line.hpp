// What CreateProcessW takes instead of an argv: one command line, and one environment block.
// Both are pure string work (no system calls), unit-tested on their own.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace remsh::agent::win {

// Quotes one argument so that CommandLineToArgvW (and the C runtime's parser) gives it back
// unchanged: backslashes are literal except before a quote, where they are doubled.
std::wstring quote_argument(const std::wstring& arg);

// The command line for argv. cmd.exe's own form `CMD /d /s /c LINE` (platform/shell.hpp) is
// written as `CMD /d /s /c "LINE"` with LINE untouched: cmd.exe parses LINE itself, and
// CommandLineToArgvW's escaping would corrupt it.
std::wstring build_command_line(const std::vector<std::string>& argv);

// Environment variables with Windows' rule for names: case-insensitive, first spelling kept.
class Environment {
 public:
  // The current process's environment (GetEnvironmentStringsW).
  static Environment current();
  void set(const std::wstring& name, const std::wstring& value);
  void unset(const std::wstring& name);
  std::optional<std::wstring> get(const std::wstring& name) const;
  // NAME=VALUE\0 ... \0, sorted by upper-cased name as CreateProcessW expects.
  std::wstring block() const;
  void parse_block(const wchar_t* block);

 private:
  static std::wstring key(const std::wstring& name);
  std::map<std::wstring, std::pair<std::wstring, std::wstring>> vars_;  // KEY -> (name, value)
};

}  // namespace remsh::agent::win
