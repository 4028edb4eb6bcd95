// HeapTrim: gives the allocator's free memory back to the system once the master has gone
// quiet after a burst of transient work.
//
// A TLS handshake allocates several times what the connection keeps afterwards (key
// exchange, certificate, transcript), and an API answer about thousands of agents builds
// megabytes of JSON it then frees. glibc keeps such freed memory in holes between live
// sessions and above them: after 2,000 agents connected and one `remsh agents`,
// bench/run-load-bench saw 29.5 KiB resident per agent, of which ~4 KiB were free memory
// that malloc_trim() returns (a trim takes ~1 ms there).
#pragma once

#include <cstdint>

namespace remsh::master {

class HeapTrim {
 public:
  // The heap is the process's: so is the instance the master's parts report to.
  static HeapTrim& process();

  // Sets the allocator up for streams, once at start (glibc; other allocators: nothing).
  static void keep_working_memory();

  // Something that allocated and freed a lot finished (a handshake, an API request, a command).
  void note_transient_work() { ++work_; }
  // Called once a second: trims when there was transient work and the last second had
  // none, so a burst is trimmed once, after it, and a master at rest never trims.
  // True if it trimmed.
  bool tick();

 private:
  std::uint64_t work_ = 0;
  std::uint64_t seen_at_last_tick_ = 0;
  std::uint64_t trimmed_at_ = 0;
};

}  // namespace remsh::master
