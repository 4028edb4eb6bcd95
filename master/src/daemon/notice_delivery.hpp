// NoticeDelivery: one notice (docs/protocol.md 9.8) on its way to an agent: a message for the
// owner, or the agent's new name. When the agent acknowledges it (`result`), a stored
// message is marked delivered; if the agent refuses it or the link goes, it stays pending
// and is offered again on the next session.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "daemon/agent_link.hpp"

namespace remsh::master {

class NoticeDelivery : public ChannelUser {
 public:
  // `delivered` runs once the agent acknowledged the notice.
  NoticeDelivery(std::weak_ptr<AgentLink> link, std::string id, std::function<void()> delivered);

  void set_channel(std::uint32_t channel) override { channel_ = channel; }
  void on_message(const protocol::ControlMessage& message) override;
  void on_data(protocol::ChannelData data) override;
  void on_failed(const protocol::ProtocolError& error) override;
  void on_link_gone(const std::string& why) override;
  void pump_input() override {}

 private:
  void done();

  std::weak_ptr<AgentLink> link_;
  std::string id_;
  std::function<void()> delivered_;
  std::uint32_t channel_ = 0;
  bool finished_ = false;
};

}  // namespace remsh::master
