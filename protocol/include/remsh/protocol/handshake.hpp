// The handshake (docs/protocol.md 3 and 6) as two pure state machines, one per side.
//
// Each is fed the bytes read from the connection and leaves the bytes to write in
// outgoing(). The agent side runs to completion on its own; the master side stops where
// it must consult its state (who is this agent, is this token good, can the session
// resume) and the caller answers with accept/reject calls. Once done, remaining bytes
// (already the session's first frames) are handed over with take_leftover().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/error.hpp"
#include "remsh/protocol/frame.hpp"
#include "remsh/protocol/messages.hpp"

namespace remsh::protocol {

struct AgentCredentials {
  std::string name;
  std::vector<std::uint8_t> secret;  // 32 bytes
};

class AgentHandshake {
 public:
  enum class State { greeting, master_hello, challenge, welcome, enrolled, done, failed };

  // Authenticating as `credentials`, or enrolling with `enroll` when it is set.
  AgentHandshake(Hello hello, std::optional<AgentCredentials> credentials,
                 std::optional<Enroll> enroll);

  // Queues the greeting and the hello; call once, first.
  void start();
  // Feeds bytes; returns the error that ends the attempt (also when the master refused:
  // then the tag and message are the master's).
  std::optional<ProtocolError> receive(ByteView bytes);

  ByteBuffer& outgoing() { return out_; }
  State state() const { return state_; }
  bool done() const { return state_ == State::done; }

  const Hello& master_hello() const { return master_hello_; }
  const Welcome& welcome() const { return welcome_; }    // when done after auth
  const Enrolled& enrolled() const { return enrolled_; }  // when done after enroll
  bool was_enrollment() const { return enroll_.has_value(); }
  ByteBuffer take_leftover() { return decoder_.take_buffered(); }

 private:
  std::optional<ProtocolError> handle(const ControlMessage& message);
  std::optional<ProtocolError> fail(ProtocolError error);
  void send(const boost::json::object& message);

  Hello hello_;
  std::optional<AgentCredentials> credentials_;
  std::optional<Enroll> enroll_;
  State state_ = State::greeting;
  ByteBuffer greeting_;
  FrameDecoder decoder_{kMinFramePayload};
  ByteBuffer out_;
  Hello master_hello_;
  Welcome welcome_;
  Enrolled enrolled_;
};

class MasterHandshake {
 public:
  enum class State {
    greeting,
    agent_hello,
    // The caller decides: challenge() for an agent, accept_enrollment()/reject() for one
    // that enrols.
    hello_received,
    auth,
    auth_received,     // the caller checks the proof: welcome() or reject()
    enroll,
    enroll_received,   // the caller checks the token: enrolled() or reject()
    done,
    failed,
  };

  explicit MasterHandshake(Hello master_hello);

  void start();  // queues the greeting
  std::optional<ProtocolError> receive(ByteView bytes);

  ByteBuffer& outgoing() { return out_; }
  State state() const { return state_; }

  const Hello& agent_hello() const { return agent_hello_; }
  const Auth& auth() const { return auth_; }
  const Enroll& enroll() const { return enroll_; }
  const std::string& nonce() const { return nonce_; }

  // After hello_received, for an agent that authenticates: sends our hello + challenge.
  void challenge(std::string nonce_hex);
  // After hello_received, for an agent that enrols: sends our hello and waits for enroll.
  void expect_enrollment();
  // After auth_received: the session is established.
  void welcome(const Welcome& welcome);
  // After enroll_received: sends the credentials; the connection then closes.
  void enrolled(const Enrolled& enrolled);
  // At any decision point: sends the error; the connection then closes.
  void reject(const ProtocolError& error);

  ByteBuffer take_leftover() { return decoder_.take_buffered(); }

 private:
  std::optional<ProtocolError> fail(ProtocolError error);
  void send(const boost::json::object& message);

  Hello hello_;
  State state_ = State::greeting;
  ByteBuffer greeting_;
  FrameDecoder decoder_{kMinFramePayload};
  ByteBuffer out_;
  Hello agent_hello_;
  Auth auth_;
  Enroll enroll_;
  std::string nonce_;
};

}  // namespace remsh::protocol
