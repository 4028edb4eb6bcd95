// FsRelay: one file operation (an `fs` channel, docs/protocol.md 9.6) relayed between an API
// client and an agent. The master adds no file logic of its own: it checks the request,
// opens the channel and passes the bytes both ways with end-to-end flow control — the agent
// gets credit back only once the client took its bytes, and the client's bytes are read
// only as fast as the agent accepts them. Nothing is stored.
#pragma once

#include "daemon/agent_link.hpp"
#include "daemon/output_watcher.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace remsh::master {

class FsRelay : public ChannelUser, public std::enable_shared_from_this<FsRelay> {
 public:
  FsRelay(std::shared_ptr<AgentLink> link, std::shared_ptr<OutputWatcher> client);

  bool finished() const { return finished_; }

  // From the agent (via AgentLink).
  void set_channel(std::uint32_t channel) override { channel_ = channel; }
  void on_message(const protocol::ControlMessage& message) override;
  void on_data(protocol::ChannelData data) override;
  void on_failed(const protocol::ProtocolError& error) override;
  void on_link_gone(const std::string& why) override;
  void pump_input() override;
  std::string describe() const override { return "file operation"; }

  // From the client: the file body (stream 4) and its end.
  void send_input(protocol::ByteView bytes);
  void end_input();
  bool input_blocked() const { return !backlog_.empty(); }
  // The client went away: abandon the operation (the agent removes partial files).
  void cancel();

 private:
  void finish_with_error(const std::string& tag, const std::string& message);
  // Hands the channel as much of `bytes` as its credit and the link's room allow.
  std::size_t send_what_fits(AgentLink& link, protocol::ByteView bytes);

  std::weak_ptr<AgentLink> link_;
  std::shared_ptr<OutputWatcher> client_;
  std::uint32_t channel_ = 0;
  std::optional<boost::json::object> result_;
  protocol::ByteBuffer backlog_;  // from the client, waiting for credit
  bool eof_pending_ = false;
  bool input_ended_ = false;
  bool finished_ = false;
};

}  // namespace remsh::master
