// FsRequest: the `open` of a channel of kind "fs" (docs/protocol.md 9.6), one file-system
// operation on the agent. Validation is structural (types, bounds, which fields each
// operation needs); where a path leads is for the agent to judge against its work directory.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "remsh/protocol/messages.hpp"

namespace remsh::protocol {

enum class FsOp { stat, list, manifest, mkdir, remove, rename, copy, chmod, hash, read, write, get_tree, put_tree };

std::string_view fs_op_name(FsOp op);
std::optional<FsOp> fs_op_from_name(std::string_view name);

inline constexpr std::size_t kMaxFsPaths = 1024;  // `paths` of a remove
inline constexpr std::size_t kMaxGlobLength = 256;

struct FsRequest {
  FsOp op = FsOp::stat;
  std::string path;                // every op but a remove with `paths`
  std::vector<std::string> paths;  // remove: several paths instead of `path`
  std::optional<std::string> to;   // rename, copy
  bool recursive = false;          // list
  std::optional<std::string> glob; // list, manifest
  bool hash = false;               // list (manifest always hashes)
  std::optional<std::uint32_t> mode;      // mkdir, chmod (required), write
  std::optional<std::int64_t> mtime_ms;   // write
  std::optional<std::uint64_t> size;      // write: announced byte count
  std::optional<std::string> sha256;      // write: announced digest, lowercase hex
  std::uint64_t offset = 0;               // read
  bool parents = false;                   // write, put_tree, rename, copy

  boost::json::object to_json() const;  // {"type":"open","kind":"fs","op":...}
  static Parsed<FsRequest> parse(const boost::json::object& object);
};

}  // namespace remsh::protocol
