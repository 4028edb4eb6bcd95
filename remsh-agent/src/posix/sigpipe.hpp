// Writing to a pipe or socket whose reader is gone must be an EPIPE error, not the death of
// the agent: the first caller makes the process ignore SIGPIPE (unless someone installed a
// handler). Children get SIG_DFL back (launch.cpp).
#pragma once

namespace remsh::agent::posix_detail {

void ignore_sigpipe_once();

}  // namespace remsh::agent::posix_detail
