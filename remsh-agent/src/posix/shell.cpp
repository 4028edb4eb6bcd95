#include "platform/shell.hpp"

namespace remsh::agent {

std::vector<std::string> shell_argv(const std::string& command_line) {
  return {"/bin/sh", "-c", command_line};
}

}  // namespace remsh::agent
