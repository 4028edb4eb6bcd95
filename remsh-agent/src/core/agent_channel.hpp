// AgentChannel: what the runner hands a channel's events to, whatever its kind (exec, fs).
#pragma once

#include "remsh/protocol/messages.hpp"
#include "remsh/protocol/session.hpp"

namespace remsh::agent {

class AgentChannel {
 public:
  virtual ~AgentChannel() = default;
  // A control message from the master (close, error, and the kind's own messages).
  virtual void on_message(const protocol::ControlMessage& message) = 0;
  // Stream bytes from the master.
  virtual void on_data(protocol::ChannelData data) = 0;
  // The session already answered a broken channel rule with error + close.
  virtual void on_failed() = 0;
  // The session is gone: stop the work and never touch the session again.
  virtual void abandon() = 0;
};

}  // namespace remsh::agent
