#include "remsh/protocol/handshake.hpp"

#include "remsh/protocol/auth.hpp"
#include "remsh/protocol/banner.hpp"
#include "remsh/protocol/limits.hpp"

namespace remsh::protocol {
namespace {

void append_control(ByteBuffer& out, const boost::json::object& message) {
  std::string text = serialize(message);
  append_frame(out, {.type = FrameType::control}, as_bytes(text));
}

// Takes greeting bytes until 8 are there; returns the rest of `bytes`, or an error.
std::variant<ByteView, ProtocolError> take_greeting(ByteBuffer& greeting, ByteView bytes,
                                                    bool& complete) {
  const std::size_t want = kBannerSize - greeting.size();
  const std::size_t n = std::min(want, bytes.size());
  greeting.append(bytes.first(n));
  complete = greeting.size() == kBannerSize;
  if (complete) {
    auto version = parse_banner(greeting.view());
    if (auto* e = std::get_if<ProtocolError>(&version)) return *e;
    auto agreed = agree_version(kProtocolVersion, std::get<std::uint16_t>(version));
    if (auto* e = std::get_if<ProtocolError>(&agreed)) return *e;
  }
  return bytes.subspan(n);
}

// The next handshake message, nullopt when more bytes are needed.
std::variant<std::optional<ControlMessage>, ProtocolError> next_message(FrameDecoder& decoder) {
  auto r = decoder.next();
  if (std::holds_alternative<FrameDecoder::NeedMore>(r)) return std::optional<ControlMessage>{};
  if (auto* e = std::get_if<ProtocolError>(&r)) return *e;
  const FrameView& f = std::get<FrameView>(r);
  if (f.header.type != FrameType::control || f.header.channel != 0 || f.header.seq != 0) {
    return ProtocolError{ErrorTag::bad_message,
                         "only unsequenced control messages on channel 0 during the handshake"};
  }
  auto parsed = parse_control(f.payload);
  if (auto* e = std::get_if<ProtocolError>(&parsed)) return *e;
  auto& m = std::get<ControlMessage>(parsed);
  if (auto e = validate_control(m)) return *e;
  return std::optional<ControlMessage>{std::move(m)};
}

// The peer's own error message, as a ProtocolError (tags we do not know stay readable).
ProtocolError peer_error(const ControlMessage& m) {
  auto e = std::get<ErrorMessage>(ErrorMessage::parse(m.body));
  if (auto tag = tag_from_name(e.tag)) return {*tag, e.message};
  return {ErrorTag::internal, e.tag + ": " + e.message};
}

ProtocolError unexpected(const std::string& got, const char* wanted) {
  return {ErrorTag::bad_message, "expected " + std::string(wanted) + ", got \"" + got + "\""};
}

template <typename T>
T parse_valid(const ControlMessage& m) {
  return std::get<T>(T::parse(m.body));  // validate_control already accepted it
}

}  // namespace

// ---- agent ----

AgentHandshake::AgentHandshake(Hello hello, std::optional<AgentCredentials> credentials,
                               std::optional<Enroll> enroll)
    : hello_(std::move(hello)), credentials_(std::move(credentials)), enroll_(std::move(enroll)) {
  hello_.role = "agent";
  if (enroll_) {
    hello_.agent.reset();
    hello_.nonce.reset();
  } else if (credentials_) {
    hello_.agent = credentials_->name;
  }
}

void AgentHandshake::send(const boost::json::object& message) { append_control(out_, message); }

void AgentHandshake::start() {
  auto banner = encode_banner(kProtocolVersion);
  out_.append(ByteView{banner});
  send(hello_.to_json());
}

std::optional<ProtocolError> AgentHandshake::fail(ProtocolError error) {
  state_ = State::failed;
  return error;
}

std::optional<ProtocolError> AgentHandshake::receive(ByteView bytes) {
  if (state_ == State::failed) return ProtocolError{ErrorTag::internal, "handshake failed"};
  if (state_ == State::greeting) {
    bool complete = false;
    auto rest = take_greeting(greeting_, bytes, complete);
    if (auto* e = std::get_if<ProtocolError>(&rest)) return fail(*e);
    if (!complete) return std::nullopt;
    bytes = std::get<ByteView>(rest);
    state_ = State::master_hello;
  }
  decoder_.feed(bytes);
  while (state_ != State::done) {
    auto next = next_message(decoder_);
    if (auto* e = std::get_if<ProtocolError>(&next)) return fail(*e);
    auto& m = std::get<std::optional<ControlMessage>>(next);
    if (!m) return std::nullopt;
    if (auto e = handle(*m)) return fail(*e);
  }
  return std::nullopt;
}

std::optional<ProtocolError> AgentHandshake::handle(const ControlMessage& m) {
  if (m.type == "error") return peer_error(m);
  switch (state_) {
    case State::master_hello:
      if (m.type != "hello") return unexpected(m.type, "hello");
      master_hello_ = parse_valid<Hello>(m);
      if (master_hello_.role != "master") {
        return ProtocolError{ErrorTag::bad_message, "peer is not a master"};
      }
      if (enroll_) {
        send(enroll_->to_json());
        state_ = State::enrolled;
      } else {
        state_ = State::challenge;
      }
      return std::nullopt;
    case State::challenge: {
      if (m.type != "challenge") return unexpected(m.type, "challenge");
      if (!credentials_ || !hello_.nonce) {
        return ProtocolError{ErrorTag::internal, "no credentials to answer a challenge"};
      }
      auto challenge = parse_valid<Challenge>(m);
      send(Auth{auth_proof(credentials_->secret, credentials_->name, *hello_.nonce,
                           challenge.nonce)}
               .to_json());
      state_ = State::welcome;
      return std::nullopt;
    }
    case State::welcome:
      if (m.type != "welcome") return unexpected(m.type, "welcome");
      welcome_ = parse_valid<Welcome>(m);
      state_ = State::done;
      return std::nullopt;
    case State::enrolled:
      if (m.type != "enrolled") return unexpected(m.type, "enrolled");
      enrolled_ = parse_valid<Enrolled>(m);
      state_ = State::done;
      return std::nullopt;
    default:
      return ProtocolError{ErrorTag::bad_message, "unexpected \"" + m.type + "\""};
  }
}

// ---- master ----

MasterHandshake::MasterHandshake(Hello master_hello) : hello_(std::move(master_hello)) {
  hello_.role = "master";
  hello_.agent.reset();
  hello_.nonce.reset();
  hello_.resume.reset();
}

void MasterHandshake::send(const boost::json::object& message) { append_control(out_, message); }

void MasterHandshake::start() {
  auto banner = encode_banner(kProtocolVersion);
  out_.append(ByteView{banner});
}

std::optional<ProtocolError> MasterHandshake::fail(ProtocolError error) {
  state_ = State::failed;
  return error;
}

std::optional<ProtocolError> MasterHandshake::receive(ByteView bytes) {
  if (state_ == State::failed) return ProtocolError{ErrorTag::internal, "handshake failed"};
  if (state_ == State::greeting) {
    bool complete = false;
    auto rest = take_greeting(greeting_, bytes, complete);
    if (auto* e = std::get_if<ProtocolError>(&rest)) return fail(*e);
    if (!complete) return std::nullopt;
    bytes = std::get<ByteView>(rest);
    state_ = State::agent_hello;
  }
  decoder_.feed(bytes);
  // Only the states that wait for the agent read messages; decision points wait for the
  // caller, who calls receive({}) again after deciding.
  while (state_ == State::agent_hello || state_ == State::auth || state_ == State::enroll) {
    auto next = next_message(decoder_);
    if (auto* e = std::get_if<ProtocolError>(&next)) return fail(*e);
    auto& m = std::get<std::optional<ControlMessage>>(next);
    if (!m) return std::nullopt;
    if (m->type == "error") return fail(peer_error(*m));
    if (state_ == State::agent_hello) {
      if (m->type != "hello") return fail(unexpected(m->type, "hello"));
      agent_hello_ = parse_valid<Hello>(*m);
      if (agent_hello_.role != "agent") {
        return fail({ErrorTag::bad_message, "peer is not an agent"});
      }
      state_ = State::hello_received;
    } else if (state_ == State::auth) {
      if (m->type != "auth") return fail(unexpected(m->type, "auth"));
      auth_ = parse_valid<Auth>(*m);
      state_ = State::auth_received;
    } else {
      if (m->type != "enroll") return fail(unexpected(m->type, "enroll"));
      enroll_ = parse_valid<Enroll>(*m);
      state_ = State::enroll_received;
    }
  }
  return std::nullopt;
}

void MasterHandshake::challenge(std::string nonce_hex) {
  nonce_ = std::move(nonce_hex);
  send(hello_.to_json());
  send(Challenge{nonce_}.to_json());
  state_ = State::auth;
}

void MasterHandshake::expect_enrollment() {
  send(hello_.to_json());
  state_ = State::enroll;
}

void MasterHandshake::welcome(const Welcome& welcome) {
  send(welcome.to_json());
  state_ = State::done;
}

void MasterHandshake::enrolled(const Enrolled& enrolled) {
  send(enrolled.to_json());
  state_ = State::done;
}

void MasterHandshake::reject(const ProtocolError& error) {
  send(ErrorMessage::from(error).to_json());
  state_ = State::failed;
}

}  // namespace remsh::protocol
