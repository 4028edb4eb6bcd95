// Backoff: how long the agent waits before reconnecting (docs/protocol.md 7.3).
//
// 0.5 s, doubling up to 30 s, each delay spread by ±20 % so a fleet of agents cut off by
// the same outage does not reconnect in lockstep. A connection that lasted longer than
// 10 s, or that carried new frames from the master (a session that worked until the network
// cut it), counts as healthy and starts the schedule over; one that failed quickly without
// doing any work (refused, auth-failed for a revoked agent, dropped right after the
// welcome) keeps climbing, so a broken agent never spins.
#pragma once

#include <chrono>
#include <cstdint>

namespace remsh::agent {

class Backoff {
 public:
  struct Policy {
    std::chrono::milliseconds initial{500};
    std::chrono::milliseconds max{30'000};
    double jitter = 0.2;                  // ± fraction of the delay
    std::chrono::milliseconds stable{10'000};  // a connection this long resets the schedule
  };

  Backoff() = default;
  explicit Backoff(Policy policy) : policy_(policy) {}

  // The delay before the next attempt. `unit` is a uniform random number in [0, 1).
  std::chrono::milliseconds next(double unit);
  // Start over at the initial delay.
  void reset() { attempt_ = 0; }
  // A connection attempt ended after `lasted` (from connect to drop); `progressed`: it
  // brought new frames from the master.
  void connection_ended(std::chrono::steady_clock::duration lasted, bool progressed = false) {
    if (lasted > policy_.stable || progressed) reset();
  }

  const Policy& policy() const { return policy_; }

 private:
  Policy policy_;
  std::uint32_t attempt_ = 0;
};

}  // namespace remsh::agent
