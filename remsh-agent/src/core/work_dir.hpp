// Where an exec channel may run: inside the agent's work directory (docs/protocol.md 9.5,
// `cwd` and the error `path-outside-workdir`).
//
// The check is on the resolved path: `..` components and symbolic links that lead out of
// the work directory are refused, whatever the path looks like. (Its owner may allow more
// places later; version 1 allows the work directory only.)
#pragma once

#include "remsh/protocol/error.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

namespace remsh::agent {

// The absolute directory to run in: `cwd` (relative to work_dir; absent: work_dir itself),
// or the error to answer the open with (path-outside-workdir, or exec-failed when the
// path cannot be examined). The directory itself need not exist yet; spawning reports that.
std::variant<std::filesystem::path, protocol::ProtocolError> resolve_cwd(
    const std::filesystem::path& work_dir, const std::optional<std::string>& cwd);

// True when `path` is `base` or below it; both absolute and already resolved.
bool is_within(const std::filesystem::path& base, const std::filesystem::path& path);

}  // namespace remsh::agent
