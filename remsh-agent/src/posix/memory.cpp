#include "platform/memory.hpp"

#include <cstdlib>  // defines __GLIBC__ (through features.h) on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace remsh::agent {

void release_free_memory() {
#if defined(__GLIBC__)
  // glibc keeps freed chunks (and raises its mmap threshold after large frees), so a 256 KiB
  // read buffer or a grown replay buffer would stay resident; trim gives them back.
  (void)::malloc_trim(0);
#endif
}

}  // namespace remsh::agent
