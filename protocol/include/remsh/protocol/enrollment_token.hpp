// EnrollmentToken: the string an operator hands to a volunteer (`remsh token create`) and
// the agent trades for its credentials (docs/protocol.md 6.4). It carries everything the
// agent needs to trust the master: its address and certificate fingerprint, so there is
// no trust-on-first-use gap.
//
// Format: "remsh1_" + base64url (no padding) of a JSON object
//   {"m":"HOST:PORT","f":"<sha256 of the master's DER certificate, hex>","s":"<secret>"}
// with "f" empty and "p":true for a plaintext master (loopback tests only).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "remsh/protocol/base64url.hpp"
#include "remsh/protocol/error.hpp"

namespace remsh::protocol {

struct EnrollmentToken {
  std::string master;       // "host:port"
  std::string fingerprint;  // lowercase hex, 64 digits; empty when plaintext
  std::string secret;       // what the master checks (it keeps only a hash)
  bool plaintext = false;

  std::string encode() const;
  static std::variant<EnrollmentToken, ProtocolError> decode(std::string_view text);
};

}  // namespace remsh::protocol
