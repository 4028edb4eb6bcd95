#include "daemon/heap_trim.hpp"

#include <cstdlib>  // defines __GLIBC__ (through features.h) on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace remsh::master {

HeapTrim& HeapTrim::process() {
  static HeapTrim instance;
  return instance;
}

bool HeapTrim::tick() {
  const bool settled = work_ != trimmed_at_ && work_ == seen_at_last_tick_;
  seen_at_last_tick_ = work_;
  if (!settled) return false;
  trimmed_at_ = work_;
#if defined(__GLIBC__)
  // Other allocators return free memory by themselves, or offer nothing to call.
  (void)::malloc_trim(0);
#endif
  return true;
}

}  // namespace remsh::master
