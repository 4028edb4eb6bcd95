#include "remsh/protocol/fs_request.hpp"

#include <array>

#include "remsh/protocol/json_fields.hpp"
#include "remsh/protocol/name_field.hpp"

namespace remsh::protocol {
namespace json = boost::json;

namespace {

constexpr std::array<std::pair<FsOp, std::string_view>, 13> kOps{{
    {FsOp::stat, "stat"},       {FsOp::list, "list"},       {FsOp::manifest, "manifest"},
    {FsOp::mkdir, "mkdir"},     {FsOp::remove, "remove"},   {FsOp::rename, "rename"},
    {FsOp::copy, "copy"},       {FsOp::chmod, "chmod"},     {FsOp::hash, "hash"},
    {FsOp::read, "read"},       {FsOp::write, "write"},     {FsOp::get_tree, "get_tree"},
    {FsOp::put_tree, "put_tree"},
}};

bool is_path(std::string_view p) { return !p.empty() && p.find('\0') == std::string_view::npos; }

bool is_lower_hex(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string_view fs_op_name(FsOp op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "?";
}

std::optional<FsOp> fs_op_from_name(std::string_view name) {
  for (const auto& [o, n] : kOps) {
    if (n == name) return o;
  }
  return std::nullopt;
}

json::object FsRequest::to_json() const {
  json::object o{{"type", "open"}, {"kind", "fs"}, {"op", fs_op_name(op)}};
  if (!paths.empty()) {
    put_names(o, "paths", paths);
  } else {
    put_name(o, "path", path);
  }
  if (to) put_name(o, "to", *to);
  if (recursive) o["recursive"] = true;
  if (glob) o["glob"] = *glob;
  if (hash) o["hash"] = true;
  if (mode) o["mode"] = *mode;
  if (mtime_ms) o["mtime_ms"] = *mtime_ms;
  if (size) o["size"] = *size;
  if (sha256) o["sha256"] = *sha256;
  if (offset) o["offset"] = offset;
  if (parents) o["parents"] = true;
  return o;
}

Parsed<FsRequest> FsRequest::parse(const json::object& object) {
  JsonFields f(object, "open.fs");
  FsRequest r;
  const std::string op = f.string("op", 64);
  if (f.error()) return *f.error();
  auto known = fs_op_from_name(op);
  if (!known) return ProtocolError{ErrorTag::unsupported, "open.fs: unknown op \"" + op + "\""};
  r.op = *known;

  if (r.op == FsOp::remove && (object.contains("paths") || object.contains("paths_b64"))) {
    r.paths = f.optional_names("paths", kMaxFsPaths, kMaxPathLength).value_or(std::vector<std::string>{});
    if (!f.error() && r.paths.empty()) f.fail("paths", "must not be empty");
    for (const auto& p : r.paths) {
      if (!f.error() && !is_path(p)) f.fail("paths", "holds an empty path or a NUL byte");
    }
  } else {
    r.path = f.name("path", kMaxPathLength);
    if (!f.error() && !is_path(r.path)) f.fail("path", "must be non-empty, without NUL bytes");
  }
  const bool needs_to = r.op == FsOp::rename || r.op == FsOp::copy;
  if (needs_to) {
    r.to = f.name("to", kMaxPathLength);
    if (!f.error() && !is_path(*r.to)) f.fail("to", "must be non-empty, without NUL bytes");
  }
  r.recursive = f.boolean("recursive", false);
  r.glob = f.optional_string("glob", kMaxGlobLength);
  if (r.glob && (r.glob->empty() || r.glob->find('\0') != std::string::npos)) {
    f.fail("glob", "must be non-empty, without NUL bytes");
  }
  r.hash = f.boolean("hash", false);
  if (auto mode = f.optional_uint("mode", 0, 07777)) r.mode = static_cast<std::uint32_t>(*mode);
  if (r.op == FsOp::chmod && !r.mode && !f.error()) f.fail("mode", "is required");
  r.mtime_ms = f.optional_int("mtime_ms", -(1ll << 53), 1ll << 53);
  r.size = f.optional_uint("size", 0, 1ull << 62);
  r.sha256 = f.optional_string("sha256", 64);
  if (r.sha256 && !is_lower_hex(*r.sha256, 64)) f.fail("sha256", "must be 64 lowercase hex digits");
  r.offset = f.optional_uint("offset", 0, 1ull << 62).value_or(0);
  r.parents = f.boolean("parents", false);
  if (f.error()) return *f.error();
  return r;
}

}  // namespace remsh::protocol
