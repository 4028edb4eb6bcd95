// Credit-based flow control for one channel (docs/protocol.md, "Flow control").
//
// Credit counts stream bytes before compression, in one direction of one channel. A sender
// may send DATA only within the credit its peer granted; the receiver grants more as its
// consumer drains what arrived. So a slow consumer slows the producer and nothing in
// between buffers without bound.
#pragma once

#include <cstdint>
#include <optional>

#include "remsh/protocol/error.hpp"

namespace remsh::protocol {

// The sending side: how much we may still send.
class SendWindow {
 public:
  explicit SendWindow(std::uint64_t initial) : credit_(initial) {}

  std::uint64_t credit() const { return credit_; }

  // Takes n bytes of credit; the caller must not take more than credit().
  void consume(std::uint64_t n);

  // Applies a WINDOW frame from the peer. An increment of 0, or one that would take the
  // credit past kMaxWindow, is a flow-control error.
  std::optional<ProtocolError> grant(std::uint32_t increment);

 private:
  std::uint64_t credit_;
};

// The receiving side: checks the peer stays within the credit we granted and decides
// when to grant more.
class ReceiveWindow {
 public:
  explicit ReceiveWindow(std::uint32_t size) : size_(size), ceiling_(size), remaining_(size) {}

  std::uint64_t remaining() const { return remaining_; }

  // Accounts for n stream bytes that arrived. More than the remaining credit is a
  // flow-control error.
  std::optional<ProtocolError> on_received(std::uint64_t n);

  // Our consumer has taken n bytes off our hands. Returns the increment to send in a
  // WINDOW frame once at least half the window is free again, so WINDOW frames stay rare.
  std::optional<std::uint32_t> on_consumed(std::uint64_t n);

  // A restarted master re-attaching the channel grants a whole window afresh without
  // knowing what the peer had left (at most a window): it accepts up to twice as much.
  void on_restart() { remaining_ = ceiling_ = std::uint64_t{size_} * 2; }

 private:
  std::uint32_t size_;
  std::uint64_t ceiling_;  // the most credit the peer can hold
  std::uint64_t remaining_;
  std::uint64_t consumed_ungranted_ = 0;
};

}  // namespace remsh::protocol
