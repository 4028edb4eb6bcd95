#include "remsh/protocol/channel_window.hpp"

#include <cassert>
#include <string>

#include "remsh/protocol/limits.hpp"

namespace remsh::protocol {

void SendWindow::consume(std::uint64_t n) {
  assert(n <= credit_ && "sender overdrew its window");
  credit_ -= n;
}

std::optional<ProtocolError> SendWindow::grant(std::uint32_t increment) {
  if (increment == 0) return ProtocolError{ErrorTag::flow_control, "WINDOW increment of 0"};
  if (credit_ + increment > kMaxWindow) {
    return ProtocolError{ErrorTag::flow_control,
                         "WINDOW increment takes credit past " + std::to_string(kMaxWindow)};
  }
  credit_ += increment;
  return std::nullopt;
}

std::optional<ProtocolError> ReceiveWindow::on_received(std::uint64_t n) {
  if (n > remaining_) {
    return ProtocolError{ErrorTag::flow_control,
                         "peer sent " + std::to_string(n) + " bytes with " +
                             std::to_string(remaining_) + " bytes of credit"};
  }
  remaining_ -= n;
  return std::nullopt;
}

std::optional<std::uint32_t> ReceiveWindow::on_consumed(std::uint64_t n) {
  consumed_ungranted_ += n;
  assert(remaining_ + consumed_ungranted_ <= ceiling_ && "consumed more than was received");
  if (consumed_ungranted_ * 2 < size_) return std::nullopt;
  auto increment = static_cast<std::uint32_t>(consumed_ungranted_);
  remaining_ += consumed_ungranted_;
  consumed_ungranted_ = 0;
  return increment;
}

}  // namespace remsh::protocol
