#include "remsh/protocol/error.hpp"

#include <array>

namespace remsh::protocol {
namespace {

struct TagEntry {
  ErrorTag tag;
  std::string_view name;
  bool connection_level;
};

constexpr std::array kTags{
    TagEntry{ErrorTag::bad_banner, "bad-banner", true},
    TagEntry{ErrorTag::version_unsupported, "version-unsupported", true},
    TagEntry{ErrorTag::bad_frame, "bad-frame", true},
    TagEntry{ErrorTag::frame_too_large, "frame-too-large", true},
    TagEntry{ErrorTag::bad_message, "bad-message", false},
    TagEntry{ErrorTag::unknown_message, "unknown-message", false},
    TagEntry{ErrorTag::bad_sequence, "bad-sequence", true},
    TagEntry{ErrorTag::bad_channel, "bad-channel", false},
    TagEntry{ErrorTag::flow_control, "flow-control", true},
    TagEntry{ErrorTag::codec_error, "codec-error", true},
    TagEntry{ErrorTag::limit_exceeded, "limit-exceeded", true},
    TagEntry{ErrorTag::handshake_timeout, "handshake-timeout", true},
    TagEntry{ErrorTag::keepalive_timeout, "keepalive-timeout", true},
    TagEntry{ErrorTag::auth_failed, "auth-failed", true},
    TagEntry{ErrorTag::resume_failed, "resume-failed", true},
    TagEntry{ErrorTag::shutdown, "shutdown", true},
    TagEntry{ErrorTag::internal, "internal", true},
    TagEntry{ErrorTag::unsupported, "unsupported", false},
    TagEntry{ErrorTag::denied, "denied", false},
    TagEntry{ErrorTag::exec_failed, "exec-failed", false},
    TagEntry{ErrorTag::timeout, "timeout", false},
    TagEntry{ErrorTag::cancelled, "cancelled", false},
    TagEntry{ErrorTag::not_found, "not-found", false},
    TagEntry{ErrorTag::exists, "exists", false},
    TagEntry{ErrorTag::path_outside_workdir, "path-outside-workdir", false},
    TagEntry{ErrorTag::io_error, "io-error", false},
    TagEntry{ErrorTag::disk_full, "disk-full", false},
    TagEntry{ErrorTag::not_a_directory, "not-a-directory", false},
    TagEntry{ErrorTag::is_a_directory, "is-a-directory", false},
    TagEntry{ErrorTag::permission_denied, "permission-denied", false},
    TagEntry{ErrorTag::verify_failed, "verify-failed", false},
    TagEntry{ErrorTag::bad_archive, "bad-archive", false},
    TagEntry{ErrorTag::policy_denied, "policy-denied", false},
    TagEntry{ErrorTag::agent_draining, "agent-draining", false},
};

// The table is indexed by the enum's value; keep both in the same order.
constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kTags.size(); ++i) {
    if (static_cast<std::size_t>(kTags[i].tag) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order());
static_assert(kTags.size() == static_cast<std::size_t>(ErrorTag::agent_draining) + 1);

const TagEntry& entry(ErrorTag tag) { return kTags[static_cast<std::size_t>(tag)]; }

}  // namespace

std::string_view tag_name(ErrorTag tag) { return entry(tag).name; }

std::optional<ErrorTag> tag_from_name(std::string_view name) {
  for (const auto& e : kTags) {
    if (e.name == name) return e.tag;
  }
  return std::nullopt;
}

bool is_connection_error(ErrorTag tag) { return entry(tag).connection_level; }

std::string ProtocolError::describe() const {
  std::string out{tag_name(tag)};
  out += ": ";
  out += message;
  return out;
}

}  // namespace remsh::protocol
