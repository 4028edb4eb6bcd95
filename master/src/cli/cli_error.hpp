// The one error type of the CLI: a stable machine tag (the master's own tags, e.g.
// "agent-offline", "unauthorized", or the CLI's, e.g. "master-unreachable") and a human message.
// Printed as "remsh: <tag>: <message>".
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace remsh::cli {

class CliError : public std::runtime_error {
public:
    CliError(std::string error_tag, const std::string& message)
        : std::runtime_error(message), tag(std::move(error_tag)) {}
    std::string tag;
};

}  // namespace remsh::cli
