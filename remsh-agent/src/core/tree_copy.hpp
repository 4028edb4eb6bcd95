// copy_tree: a file, a symlink (as a link) or a whole tree copied with the platform's file
// primitives (platform/file_system.hpp), the same on every platform.
#pragma once

#include <cstdint>
#include <filesystem>
#include <system_error>

namespace remsh::agent {

// Returns the number of entries made. Not flushed to disk: the caller does that once
// (sync_file_system). Sockets, devices and other kinds of files are skipped.
std::uint64_t copy_tree(const std::filesystem::path& from, const std::filesystem::path& to, std::error_code& ec);

}  // namespace remsh::agent
