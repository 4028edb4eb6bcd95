// Runs the agent's side of the handshake (protocol::AgentHandshake, a pure state machine)
// over a Transport: writes what it queues, feeds it what arrives, until it is done.
// Shared by `remsh-agent enroll` and `remsh-agent run`.
#pragma once

#include "platform/transport.hpp"
#include "remsh/protocol/error.hpp"
#include "remsh/protocol/handshake.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <stdexcept>

namespace remsh::agent {

// The handshake failed at the protocol level; for a refusal by the master (auth-failed,
// version-unsupported...) the error is the master's own tag and text.
class HandshakeError : public std::runtime_error {
 public:
  explicit HandshakeError(protocol::ProtocolError error)
      : std::runtime_error(error.describe()), error_(std::move(error)) {}
  const protocol::ProtocolError& error() const { return error_; }

 private:
  protocol::ProtocolError error_;
};

// Returns once handshake.done(). Throws HandshakeError, std::runtime_error on timeout, or
// what the transport throws (the connection is then useless; the caller closes it).
boost::asio::awaitable<void> drive_handshake(Transport& transport, protocol::AgentHandshake& handshake,
                                             std::chrono::seconds timeout);

}  // namespace remsh::agent
