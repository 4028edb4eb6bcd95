// Memory the agent hands back. An agent idles most of its life on a volunteer's machine:
// what a big stream or transfer allocated must not stay resident once it is over.
// POSIX: posix/memory.cpp (glibc's malloc_trim; elsewhere nothing to do); Windows: the
// process heap returns large blocks by itself.
#pragma once

namespace remsh::agent {

// Returns the allocator's free memory to the operating system. Called when the agent has
// gone idle (no channel left for a while), never on a hot path.
void release_free_memory();

}  // namespace remsh::agent
