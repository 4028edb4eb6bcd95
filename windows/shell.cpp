// The shell for exec `shell` lines (platform/shell.hpp): cmd.exe, without AutoRun (/d) and
// with the line taken as it is (/s: only the outer quotes the agent adds are stripped).
#include "platform/shell.hpp"

#include <cstdlib>

namespace remsh::agent {

namespace {
std::string cmd_exe() {
  // %ComSpec% is cmd.exe's full path on every Windows; fall back to the name (PATH search).
  const char* comspec = std::getenv("ComSpec");
  return comspec && *comspec ? std::string(comspec) : std::string("cmd.exe");
}
}  // namespace

std::vector<std::string> shell_argv(const std::string& command_line) {
  // The launcher (command_line.cpp) writes the line as it is inside one pair of quotes:
  // cmd.exe does its own parsing, CommandLineToArgvW's escaping would corrupt it.
  return {cmd_exe(), "/d", "/s", "/c", command_line};
}

std::vector<std::string> login_shell_argv() { return {cmd_exe(), "/d"}; }

}  // namespace remsh::agent
