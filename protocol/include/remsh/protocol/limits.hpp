// Hard bounds on everything a peer controls (docs/protocol.md, "Limits").
//
// A receiver enforces these whatever the peer announced; exceeding one is an error with a
// tag, never an allocation of what the peer asked for.
#pragma once

#include <cstddef>
#include <cstdint>

namespace remsh::protocol {

inline constexpr std::uint16_t kProtocolVersion = 1;

// Frame payloads.
inline constexpr std::uint32_t kMaxFramePayload = 1u << 20;        // absolute ceiling: 1 MiB
inline constexpr std::uint32_t kMinFramePayload = 64u * 1024;      // everyone accepts this much
inline constexpr std::uint32_t kDefaultFramePayload = 256u * 1024;
inline constexpr std::uint32_t kMaxControlPayload = 64u * 1024;    // a JSON message

// JSON control messages.
inline constexpr std::size_t kMaxJsonDepth = 16;
inline constexpr std::size_t kMaxStringLength = 32u * 1024;
inline constexpr std::size_t kMaxArgvEntries = 4096;
inline constexpr std::size_t kMaxEnvEntries = 4096;
inline constexpr std::size_t kMaxPathLength = 4096;  // a path in a message (cwd, fs paths)

// Channels.
inline constexpr std::uint32_t kMaxChannelsCeiling = 1024;
inline constexpr std::uint32_t kDefaultMaxChannels = 64;

// Flow control: windows count stream bytes before compression.
inline constexpr std::uint32_t kDefaultWindow = 4u * 1024 * 1024;
inline constexpr std::uint32_t kMinWindow = 64u * 1024;
inline constexpr std::uint64_t kMaxWindow = (1ull << 31) - 1;

// Reliability.
inline constexpr std::uint64_t kDefaultReplayBytes = 16ull * 1024 * 1024;
inline constexpr std::uint64_t kMinReplayBytes = 1ull * 1024 * 1024;
inline constexpr std::uint64_t kMaxReplayBytes = 1ull << 30;

// Timers (seconds).
inline constexpr std::uint32_t kHandshakeTimeoutS = 10;
inline constexpr std::uint32_t kDefaultKeepaliveS = 15;
inline constexpr std::uint32_t kDefaultDeadAfterS = 45;
inline constexpr std::uint32_t kDefaultResumeGraceS = 300;

// zstd decoders refuse frames that need a window larger than this (bounds decoder memory).
inline constexpr int kZstdMaxWindowLog = 20;  // 1 MiB

// Streams with data in flight per channel and direction (each may hold a decoder).
inline constexpr std::size_t kMaxStreamsPerChannel = 8;

}  // namespace remsh::protocol
