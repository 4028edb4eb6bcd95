// Errors that cross the wire: a stable machine tag plus a human message.
//
// Every failure a peer can cause is reported as a ProtocolError. The tag is what programs
// match on; the message is for people and may change between versions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace remsh::protocol {

enum class ErrorTag {
  // Connection-level (see is_connection_error): the connection is closed after the error.
  bad_banner,
  version_unsupported,
  bad_frame,
  frame_too_large,
  bad_message,
  unknown_message,
  bad_sequence,
  bad_channel,
  flow_control,
  codec_error,
  limit_exceeded,
  handshake_timeout,
  keepalive_timeout,
  auth_failed,
  resume_failed,
  shutdown,
  internal,
  // Channel-level: only the channel ends.
  unsupported,
  denied,
  exec_failed,
  timeout,
  cancelled,
  not_found,
  exists,
  path_outside_workdir,
  io_error,
  disk_full,
  not_a_directory,
  is_a_directory,
  permission_denied,
  verify_failed,
  bad_archive,
  policy_denied,
  agent_draining,
};

// The wire spelling of a tag ("bad-frame"). Stable: never renamed once released.
std::string_view tag_name(ErrorTag tag);

// Parses a wire tag; nullopt for tags this version does not know.
std::optional<ErrorTag> tag_from_name(std::string_view name);

// True for tags that always end the whole connection. The others end only the channel
// they concern when they arrive on one (bad-message, unknown-message and bad-channel end
// the connection when they concern channel 0 or a channel that is not open).
bool is_connection_error(ErrorTag tag);

struct ProtocolError {
  ErrorTag tag;
  std::string message;

  // "bad-frame: reserved byte is 7" — for logs and CLI output.
  std::string describe() const;
};

}  // namespace remsh::protocol
