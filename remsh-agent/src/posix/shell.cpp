#include "platform/shell.hpp"

#include <unistd.h>

#include <cstdlib>

namespace remsh::agent {

std::vector<std::string> shell_argv(const std::string& command_line) {
  return {"/bin/sh", "-c", command_line};
}

std::vector<std::string> login_shell_argv() {
  // $SHELL when it names an executable, as a login shell (-l: bash, zsh, dash and ksh take it).
  const char* shell = std::getenv("SHELL");
  if (shell != nullptr && shell[0] == '/' && access(shell, X_OK) == 0) return {shell, "-l"};
  return {"/bin/sh", "-l"};
}

}  // namespace remsh::agent
