// Writing output to a file descriptor: binary-safe write(2) loops that survive EINTR and a
// non-blocking descriptor (a terminal's stdout shares its "non-blocking" flag with stdin, which
// Asio sets when it reads stdin).
#pragma once

#include <cstddef>
#include <string_view>

namespace remsh::cli {

enum class WriteResult { ok, closed, error };

// Writes all of `data` to `fd`. `closed`: the reader went away (EPIPE; SIGPIPE must be ignored);
// `error`: any other failure (errno tells).
WriteResult write_all(int fd, std::string_view data);

}  // namespace remsh::cli
