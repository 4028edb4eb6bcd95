// Files only the agent's user may read: the credentials in agent.json (its secret lets
// anyone act as this agent). POSIX: posix/private_file.cpp; Windows: its own ACLs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace remsh::agent {

// Creates `dir` (and parents) if missing; a directory it creates is private (0700).
// Throws std::filesystem::filesystem_error.
void create_private_directory(const std::filesystem::path& dir);

// Replaces `path` with `contents` atomically: writes a private (0600) temporary file next to
// it, flushes it to disk and renames it over `path`, so a crash leaves either the old or
// the new file, never half of one, and the secret is never readable by others, not even
// for a moment. Throws std::filesystem::filesystem_error.
void write_private_file(const std::filesystem::path& path, std::string_view contents);

// Why `path` (the config dir, its policy.json) cannot be trusted: other users may write it
// (POSIX: group or others have write permission, as ssh's StrictModes checks), and so could
// widen the owner's policy or replace the agent's credentials. nullopt when it is safe or
// missing. Windows: its ACLs are not judged here (nullopt).
std::optional<std::string> writable_by_others(const std::filesystem::path& path);

}  // namespace remsh::agent
