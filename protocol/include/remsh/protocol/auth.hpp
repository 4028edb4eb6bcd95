// Agent authentication (docs/protocol.md 6.3): SHA-256, HMAC-SHA256 and the proof an agent
// computes from its secret. Self-contained, so the agent needs no crypto library for it on
// any platform; the master stores only stored_key(secret).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "remsh/protocol/byte_buffer.hpp"

namespace remsh::protocol {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(ByteView data);
Digest hmac_sha256(ByteView key, ByteView message);

std::string to_hex(ByteView bytes);
// Lowercase or uppercase hex; nullopt for odd length or other characters.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex);

// client_key = HMAC-SHA256(secret, "remsh client key"); stored_key = SHA256(client_key).
Digest client_key(ByteView secret);
Digest stored_key(ByteView secret);

// The agent's proof, as 64 hex digits.
std::string auth_proof(ByteView secret, std::string_view agent, std::string_view agent_nonce_hex,
                       std::string_view master_nonce_hex);

// The master's check, constant-time in the proof's content.
bool verify_auth_proof(const Digest& stored, std::string_view agent,
                       std::string_view agent_nonce_hex, std::string_view master_nonce_hex,
                       std::string_view proof_hex);

}  // namespace remsh::protocol
