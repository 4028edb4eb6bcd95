// ChannelHost: what a channel needs from the agent's connection machinery (AgentRunner),
// kept to an interface so channels can be read (and tested) on their own.
//
// The Session outlives connections: while the link is down a channel keeps producing into
// the session (its replay buffer and credit bound how much), and the bytes go out after
// the resume.
#pragma once

#include "core/notifier.hpp"
#include "remsh/protocol/session.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>

namespace remsh::agent {

class ChannelHost {
 public:
  virtual ~ChannelHost() = default;

  virtual boost::asio::any_io_executor executor() = 0;
  virtual protocol::Session& session() = 0;
  // The session has new frames to send: wake the connection's writer.
  virtual void wake_writer() = 0;
  // Room to produce new DATA: the replay buffer is not full and the writer is not far
  // behind. Channels read their sources only while it holds (and credit is left).
  virtual bool room_to_send() = 0;
  bool may_send_data(std::uint32_t channel) { return session().credit(channel) > 0 && room_to_send(); }
  // Notified whenever sending may have become possible again: credit arrived (WINDOW),
  // the replay buffer drained (ACK), the writer caught up, a connection came back.
  virtual Notifier& send_ready() = 0;
  // The channel is done on our side (it sent close): forget it.
  virtual void channel_finished(std::uint32_t channel) = 0;
};

}  // namespace remsh::agent
