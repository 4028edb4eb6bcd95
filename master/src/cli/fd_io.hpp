// Writing output to a file descriptor: binary-safe write(2) loops that survive EINTR and a
// non-blocking descriptor (a terminal's stdout shares its "non-blocking" flag with stdin, which
// Asio sets when it reads stdin).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace remsh::cli {

enum class WriteResult { ok, closed, error };

// Writes all of `data` to `fd`. `closed`: the reader went away (EPIPE; SIGPIPE must be ignored);
// `error`: any other failure (errno tells).
WriteResult write_all(int fd, std::string_view data);

// The first write to stdout or stderr that failed other than with EPIPE (a full disk, an I/O
// error, a closed descriptor): what remsh printed is incomplete, so it must not exit 0.
struct OutputFailure {
    int fd;
    int error;  // errno
    bool reported = false;  // already told (remsh run says more than main's generic message)
};
std::optional<OutputFailure> output_failure();
// "cannot write stdout: No space left on device"
std::string describe(const OutputFailure& failure);
void mark_output_failure_reported();

// Run first: a descriptor 0, 1 or 2 that was closed when remsh started (`remsh run a -- ls >&-`)
// gets /dev/null, so that no socket of ours takes its number and receives output meant for
// stdout; a write to stdout or stderr that was closed then fails with EBADF.
void guard_standard_descriptors();

}  // namespace remsh::cli
