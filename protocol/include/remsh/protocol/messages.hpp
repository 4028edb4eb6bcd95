// Control messages: JSON objects in CONTROL frames (docs/protocol.md, "Control messages").
//
// parse_control() checks what every message must be (UTF-8 JSON, an object, bounded depth,
// a string "type"); each typed message then validates its own fields with bounds. Unknown
// fields are ignored; an unknown "type" is for the caller to refuse (unknown-message), since
// which types are allowed depends on the channel and the session's state.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/error.hpp"
#include "remsh/protocol/frame.hpp"
#include "remsh/protocol/limits.hpp"

namespace remsh::protocol {

template <typename T>
using Parsed = std::variant<T, ProtocolError>;

struct ControlMessage {
  std::string type;
  boost::json::object body;  // the whole object, "type" included
};

Parsed<ControlMessage> parse_control(ByteView payload);
std::string serialize(const boost::json::object& object);

// ---- connection messages (channel 0) ----

// What one side supports and the limits it applies to what it receives.
// zstd first, then deflate. (A function, not a braced default: GCC 12 at -O2 reports a
// false maybe-uninitialized warning for a vector initializer list in a default member.)
std::vector<Codec> default_codecs();

struct Capabilities {
  std::vector<Codec> codecs = default_codecs();  // preference order
  bool resume = true;
  bool pty = false;
  std::uint32_t max_channels = kDefaultMaxChannels;  // channels the sender accepts at once
  std::uint32_t max_frame = kDefaultFramePayload;    // largest DATA payload it accepts
  std::uint32_t window = kDefaultWindow;             // initial credit it grants per channel
  std::uint64_t replay_bytes = kDefaultReplayBytes;  // its replay buffer
  std::uint32_t keepalive_s = kDefaultKeepaliveS;    // its PING interval when idle
  bool status = false;  // it accepts `status` messages on channel 0 (docs/protocol.md 8.1)
  // Agent: it can be re-attached by a master that restarted (docs/protocol.md 7.4).
  bool reattach = false;

  boost::json::object to_json() const;
  static Parsed<Capabilities> parse(const boost::json::object& object);
};

struct ResumeRequest {
  std::string session;
  std::uint64_t received = 0;  // last seq the agent holds from the master
  std::uint64_t sent = 0;      // last seq the agent sent (0: not given); bounds its replay
};

struct Hello {
  std::uint16_t version = kProtocolVersion;
  std::string role;      // "agent" or "master"
  std::string software;  // "remsh-agent/0.1.0"
  Capabilities capabilities;
  std::optional<std::string> agent;  // agent: its name (absent when enrolling)
  std::optional<std::string> nonce;  // agent: client nonce for authentication (hex)
  std::optional<ResumeRequest> resume;
  // agent: facts about its host, shown to operators (os, arch, cpus, memory_mb, hostname,
  // ...); opaque to the protocol.
  std::optional<boost::json::object> facts;

  boost::json::object to_json() const;
  static Parsed<Hello> parse(const boost::json::object& object);
};

struct Challenge {
  std::string nonce;  // master's nonce, hex, 32 bytes

  boost::json::object to_json() const;
  static Parsed<Challenge> parse(const boost::json::object& object);
};

struct Auth {
  std::string proof;  // hex, 32 bytes

  boost::json::object to_json() const;
  static Parsed<Auth> parse(const boost::json::object& object);
};

// Enrolment (docs/protocol.md 6.4): an agent without credentials trades a token for them.
struct Enroll {
  std::string token;
  std::optional<std::string> name;

  boost::json::object to_json() const;
  static Parsed<Enroll> parse(const boost::json::object& object);
};

struct Enrolled {
  std::string agent;
  std::string secret;  // 64 hex digits

  boost::json::object to_json() const;
  static Parsed<Enrolled> parse(const boost::json::object& object);
};

struct Welcome {
  std::string session;
  bool resumed = false;
  std::uint64_t received = 0;  // last seq the master holds from the agent (when resumed)
  std::vector<Codec> codecs;   // codecs both sides have; senders may use any of them
  std::uint32_t keepalive_s = kDefaultKeepaliveS;
  std::uint32_t dead_after_s = kDefaultDeadAfterS;
  // A master that restarted re-attaches the session from what it stored (docs/protocol.md
  // 7.4): the agent keeps only these channels and ends every other one.
  bool restarted = false;
  std::vector<std::uint32_t> channels;

  boost::json::object to_json() const;
  static Parsed<Welcome> parse(const boost::json::object& object);
};

// Also used on a channel: then only that channel ends (unless the tag is connection-level).
struct ErrorMessage {
  std::string tag;  // kept as text: a newer peer may send tags this version lacks
  std::string message;

  static ErrorMessage from(const ProtocolError& error);
  boost::json::object to_json() const;
  static Parsed<ErrorMessage> parse(const boost::json::object& object);
};

struct Goodbye {
  std::string reason;

  boost::json::object to_json() const;
  static Parsed<Goodbye> parse(const boost::json::object& object);
};

// Agent -> master on channel 0, only to a master whose capabilities say `status`
// (docs/protocol.md 8.1): the agent is leaving gracefully (it finishes what runs and accepts
// nothing new), or has changed its mind.
struct Status {
  bool draining = false;
  std::string reason;

  boost::json::object to_json() const;
  static Parsed<Status> parse(const boost::json::object& object);
};

// ---- channel messages ----

struct PtyRequest {
  std::uint32_t cols = 80;
  std::uint32_t rows = 24;
  std::string term = "xterm-256color";
};

// open with kind "exec": run a process.
struct ExecRequest {
  std::vector<std::string> argv;     // run directly, no shell ...
  std::optional<std::string> shell;  // ... or a shell command line (exactly one of the two)
  std::optional<std::string> cwd;    // relative to the agent's work directory
  std::map<std::string, std::optional<std::string>> env;  // value null = unset
  bool env_clear = false;
  bool stdin_ = false;  // the master will send stream 0; otherwise stdin is empty
  std::optional<PtyRequest> pty;
  std::optional<std::uint64_t> timeout_s;
  std::optional<std::uint64_t> no_output_timeout_s;
  // A person's debug shell (`remsh shell`): allowed only where the owner's policy allows
  // shells; with neither argv nor shell it runs the agent user's login shell.
  bool interactive = false;

  boost::json::object to_json() const;  // {"type":"open","kind":"exec",...}
  static Parsed<ExecRequest> parse(const boost::json::object& object);
};

// open with kind "notice" (docs/protocol.md 9.8): a message for the agent's owner, or the
// news that the master renamed the agent. The agent acknowledges with an empty `result`
// once it has shown and kept the text.
struct NoticeRequest {
  std::string id;                     // the master's message id
  std::string text;                   // for the owner
  std::optional<std::string> from;    // who sent it, for the owner
  std::optional<std::string> rename;  // the agent's new name

  boost::json::object to_json() const;  // {"type":"open","kind":"notice",...}
  static Parsed<NoticeRequest> parse(const boost::json::object& object);
};

struct Opened {
  std::optional<std::uint64_t> pid;

  boost::json::object to_json() const;
  static Parsed<Opened> parse(const boost::json::object& object);
};

struct Signal {
  std::string signal;  // INT TERM KILL HUP QUIT USR1 USR2
  bool group = true;   // to the whole process group / job, not just the leader

  boost::json::object to_json() const;
  static Parsed<Signal> parse(const boost::json::object& object);
};

struct Resize {
  std::uint32_t cols = 80;
  std::uint32_t rows = 24;

  boost::json::object to_json() const;
  static Parsed<Resize> parse(const boost::json::object& object);
};

struct ExecResult {
  // "exited", "signaled", "timeout", "no-output-timeout", "cancelled"
  std::string reason;
  std::optional<std::int64_t> exit_code;
  std::optional<std::string> signal;
  std::uint64_t elapsed_ms = 0;
  std::uint64_t cpu_user_ms = 0;
  std::uint64_t cpu_system_ms = 0;
  std::uint64_t max_rss_kb = 0;

  boost::json::object to_json() const;
  static Parsed<ExecResult> parse(const boost::json::object& object);
};

struct Close {
  boost::json::object to_json() const;
};

// Validates a message by its type (and kind, for "open") with the typed parser above.
// Unknown types and kinds are unknown-message. Used where only validity matters: test
// vectors, fuzzing, and logging what a peer sent.
std::optional<ProtocolError> validate_control(const ControlMessage& message);

}  // namespace remsh::protocol
