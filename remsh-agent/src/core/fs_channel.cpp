#include "core/fs_channel.hpp"
#include "core/tree_copy.hpp"

#include "core/glob.hpp"
#include "core/log.hpp"
#include "core/tree_extractor.hpp"
#include "core/tree_walker.hpp"
#include "core/work_dir.hpp"
#include "remsh/protocol/name_field.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace remsh::agent {
namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
using protocol::ErrorTag;
using protocol::FsOp;
using protocol::ProtocolError;

namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kEntryBatch = 64 * 1024;

ProtocolError os_error(const std::string& what, const std::error_code& ec) {
  auto tag = protocol::tag_from_name(file_error_tag(ec)).value_or(ErrorTag::io_error);
  return {tag, what + ": " + ec.message()};
}

const char* type_name(FileType t) {
  switch (t) {
    case FileType::file: return "file";
    case FileType::directory: return "directory";
    case FileType::symlink: return "symlink";
    case FileType::other: return "other";
    case FileType::none: break;
  }
  return "none";
}

json::object info_json(const FileInfo& info) {
  json::object o{{"type", type_name(info.type)},
                 {"size", info.size},
                 {"mode", info.mode},
                 {"mtime_ms", info.mtime_ms}};
  if (info.type == FileType::symlink) protocol::put_name(o, "target", info.target);
  return o;
}

std::optional<std::string> hash_file(const fs::path& path, std::uint64_t* size, std::error_code& ec) {
  auto in = open_for_reading(path, 0, ec);
  if (ec) return std::nullopt;
  Sha256 hasher;
  // One buffer for every call: a manifest hashes thousands of small files.
  static std::vector<std::uint8_t> buf(kChunk);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t n = in->read(buf, ec);
    if (ec) return std::nullopt;
    if (n == 0) break;
    hasher.update({buf.data(), n});
    total += n;
  }
  if (size) *size = total;
  return hasher.finish_hex();
}

protocol::TreeEntry archive_entry(const WalkEntry& e) {
  protocol::TreeEntry t;
  t.path = e.path;
  t.mode = e.info.mode;
  t.mtime_ms = e.info.mtime_ms;
  if (e.info.type == FileType::directory) {
    t.type = protocol::TreeEntryType::directory;
  } else if (e.info.type == FileType::symlink) {
    t.type = protocol::TreeEntryType::symlink;
    t.target = e.info.target;
  } else {
    t.type = protocol::TreeEntryType::file;
    t.size = e.info.size;
  }
  return t;
}

}  // namespace

FsChannel::FsChannel(ChannelHost& host, std::uint32_t id, const WorkArea& area)
    : host_(host), id_(id), area_(area) {}

FsChannel::~FsChannel() = default;  // an uncommitted NewFile removes its temporary file

void FsChannel::spawn(asio::awaitable<void> body) {
  asio::co_spawn(host_.executor(), std::move(body), [self = shared_from_this()](std::exception_ptr e) {
    if (!e || self->detached_) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      self->fail({ErrorTag::io_error, ex.what()});
    }
  });
}

// ---- open ----

void FsChannel::start(const protocol::FsRequest& request) {
  request_ = request;
  if (request_.paths.empty()) {
    // Operations on a name itself do not follow a final symlink; the others read through it.
    const bool follow = request_.op == FsOp::list || request_.op == FsOp::manifest ||
                        request_.op == FsOp::hash || request_.op == FsOp::read ||
                        request_.op == FsOp::chmod || request_.op == FsOp::get_tree ||
                        request_.op == FsOp::put_tree || request_.op == FsOp::mkdir;
    auto resolved = area_.resolve(request_.path, follow);
    if (auto* e = std::get_if<ProtocolError>(&resolved)) return fail(*e);
    target_ = std::get<fs::path>(resolved);
  }
  switch (request_.op) {
    case FsOp::list:
    case FsOp::manifest:
      session().send_control(id_, json::object{{"type", "opened"}});
      host_.wake_writer();
      spawn(send_entries());
      return;
    case FsOp::read:
    case FsOp::get_tree: {
      std::error_code ec;
      FileInfo info = file_info(target_, ec);
      if (ec) return fail(os_error(request_.path, ec));
      if (info.type == FileType::none) return fail({ErrorTag::not_found, request_.path + " does not exist"});
      if (request_.op == FsOp::read && info.type == FileType::directory) {
        return fail({ErrorTag::is_a_directory, request_.path + " is a directory"});
      }
      session().send_control(id_, json::object{{"type", "opened"}});
      host_.wake_writer();
      spawn(request_.op == FsOp::read ? send_file() : send_tree());
      return;
    }
    case FsOp::write:
    case FsOp::put_tree: {
      auto error = request_.op == FsOp::write ? begin_write() : begin_put_tree();
      if (error) return fail(*error);
      session().send_control(id_, json::object{{"type", "opened"}});
      host_.wake_writer();
      return;
    }
    default: {
      Outcome outcome = run_immediate();
      if (auto* e = std::get_if<ProtocolError>(&outcome)) return fail(*e);
      session().send_control(id_, json::object{{"type", "opened"}});
      succeed(std::move(std::get<json::object>(outcome)));
      return;
    }
  }
}

FsChannel::Outcome FsChannel::run_immediate() {
  switch (request_.op) {
    case FsOp::stat: return do_stat();
    case FsOp::mkdir: return do_mkdir();
    case FsOp::remove: return do_remove();
    case FsOp::rename: return do_rename();
    case FsOp::copy: return do_copy();
    case FsOp::chmod: return do_chmod();
    case FsOp::hash: return do_hash();
    default: break;
  }
  return ProtocolError{ErrorTag::internal, "operation dispatched as immediate"};
}

FsChannel::Outcome FsChannel::do_stat() {
  std::error_code ec;
  FileInfo info = file_info(target_, ec);
  if (ec) return os_error(request_.path, ec);
  if (info.type == FileType::none) return json::object{{"exists", false}};
  // Nested: "type" at the top is the message's own.
  return json::object{{"exists", true}, {"entry", info_json(info)}};
}

FsChannel::Outcome FsChannel::do_mkdir() {
  std::error_code ec;
  const bool created = make_directories(target_, request_.mode, ec);
  std::error_code probe;
  if (ec == std::errc::file_exists && (file_info(target_, probe).type == FileType::none || probe)) {
    // The target is absent, so what exists is a file above it (docs/protocol.md 12).
    return ProtocolError{ErrorTag::not_a_directory, request_.path + ": a path component is not a directory"};
  }
  if (ec) return os_error(request_.path, ec);
  return json::object{{"created", created}};
}

FsChannel::Outcome FsChannel::do_remove() {
  std::vector<std::string> paths = request_.paths;
  if (paths.empty()) paths.push_back(request_.path);
  std::uint64_t removed = 0;
  for (const auto& p : paths) {
    auto resolved = area_.resolve(p, /*follow_final=*/false);
    if (auto* e = std::get_if<ProtocolError>(&resolved)) return *e;
    const fs::path& path = std::get<fs::path>(resolved);
    if (area_.is_root(path)) return ProtocolError{ErrorTag::denied, p + " is the work directory itself"};
    std::error_code ec;
    if (remove_tree(path, ec)) ++removed;
    if (ec) return os_error(p, ec);
  }
  return json::object{{"removed", removed}};
}

FsChannel::Outcome FsChannel::do_rename() {
  auto to = area_.resolve(*request_.to, /*follow_final=*/false);
  if (auto* e = std::get_if<ProtocolError>(&to)) return *e;
  const fs::path& dest = std::get<fs::path>(to);
  if (area_.is_root(target_) || area_.is_root(dest)) {
    return ProtocolError{ErrorTag::denied, "cannot rename the work directory itself"};
  }
  std::error_code ec;
  if (request_.parents) make_directories(dest.parent_path(), std::nullopt, ec);
  if (!ec) replace_file(target_, dest, ec);
  if (ec) return os_error(request_.path + " -> " + *request_.to, ec);
  return json::object{};
}

FsChannel::Outcome FsChannel::do_copy() {
  auto to = area_.resolve(*request_.to, /*follow_final=*/false);
  if (auto* e = std::get_if<ProtocolError>(&to)) return *e;
  const fs::path& dest = std::get<fs::path>(to);
  std::error_code ec;
  if (file_info(dest, ec).type != FileType::none && !ec) {
    return ProtocolError{ErrorTag::exists, *request_.to + " exists"};
  }
  if (is_within(target_, dest)) return ProtocolError{ErrorTag::denied, "cannot copy a directory into itself"};
  if (request_.parents) make_directories(dest.parent_path(), std::nullopt, ec);
  std::uint64_t n = ec ? 0 : copy_tree(target_, dest, ec);
  if (!ec) sync_file_system(dest.parent_path(), ec);
  if (ec) return os_error(request_.path + " -> " + *request_.to, ec);
  return json::object{{"files", n}};
}

FsChannel::Outcome FsChannel::do_chmod() {
  std::error_code ec;
  set_mode(target_, *request_.mode, ec);
  if (ec) return os_error(request_.path, ec);
  return json::object{};
}

FsChannel::Outcome FsChannel::do_hash() {
  std::error_code ec;
  std::uint64_t size = 0;
  auto digest = hash_file(target_, &size, ec);
  if (ec) return os_error(request_.path, ec);
  return json::object{{"size", size}, {"sha256", *digest}};
}

std::optional<ProtocolError> FsChannel::begin_write() {
  if (area_.is_root(target_)) return ProtocolError{ErrorTag::is_a_directory, request_.path + " is the work directory"};
  std::error_code ec;
  if (request_.parents) make_directories(target_.parent_path(), std::nullopt, ec);
  if (!ec) new_file_ = create_new_file(target_, ec);
  if (ec) return os_error(request_.path, ec);
  hasher_ = std::make_unique<Sha256>();
  return std::nullopt;
}

std::optional<ProtocolError> FsChannel::begin_put_tree() {
  std::error_code ec;
  FileInfo info = file_info(target_, ec);
  if (!ec && info.type != FileType::none && info.type != FileType::directory) {
    return ProtocolError{ErrorTag::not_a_directory, request_.path + " exists and is not a directory"};
  }
  if (!ec && info.type == FileType::none) {
    if (!request_.parents) {
      FileInfo parent = file_info(target_.parent_path(), ec);
      if (!ec && parent.type != FileType::directory) {
        return ProtocolError{ErrorTag::not_found, "the parent of " + request_.path + " does not exist"};
      }
    }
    make_directories(target_, std::nullopt, ec);
  }
  if (ec) return os_error(request_.path, ec);
  extractor_ = std::make_unique<TreeExtractor>(area_, target_);
  archive_reader_ = std::make_unique<protocol::TreeArchiveReader>();
  return std::nullopt;
}

// ---- from the master ----

void FsChannel::on_message(const protocol::ControlMessage& message) {
  if (detached_) return;
  if (message.type == "close" || message.type == "error") {
    // Abandoned: nothing half-written may stay behind.
    detached_ = true;
    if (session().channel_open(id_)) {
      session().close_channel(id_);
      host_.wake_writer();
    }
    release();
    host_.channel_finished(id_);
    return;
  }
  fail({ErrorTag::bad_channel, "the master may not send \"" + message.type + "\" on an fs channel"});
}

void FsChannel::on_data(protocol::ChannelData data) {
  if (detached_) return;
  const bool receiving = request_.op == FsOp::write || request_.op == FsOp::put_tree;
  if (!receiving || data.stream != protocol::stream_id::file) {
    return fail({ErrorTag::bad_channel, "DATA on stream " + std::to_string(data.stream) +
                                            ", which this fs channel does not read"});
  }
  const std::size_t n = data.bytes.size();
  received_ += n;
  if (request_.op == FsOp::write) {
    if (n > 0) {
      std::error_code ec;
      new_file_->write(data.bytes, ec);
      if (ec) return fail(os_error(request_.path, ec));
      hasher_->update(data.bytes);
    }
  } else if (n > 0) {
    if (auto e = archive_reader_->feed(data.bytes, *extractor_)) return fail(*e);
  }
  // On disk (or refused): the master may send more.
  session().consumed(id_, n);
  host_.wake_writer();
  if (data.end_of_stream) {
    if (request_.op == FsOp::write) {
      finish_write();
    } else {
      finish_put_tree();
    }
  }
}

void FsChannel::finish_write() {
  const std::string digest = hasher_->finish_hex();
  if (request_.size && *request_.size != received_) {
    return fail({ErrorTag::verify_failed, "received " + std::to_string(received_) + " bytes, " +
                                              std::to_string(*request_.size) + " were announced"});
  }
  if (request_.sha256 && *request_.sha256 != digest) {
    return fail({ErrorTag::verify_failed, "the data's sha256 is " + digest + ", " + *request_.sha256 +
                                              " was announced"});
  }
  std::error_code ec;
  new_file_->commit(request_.mode, request_.mtime_ms, ec);
  new_file_.reset();
  if (ec) return fail(os_error(request_.path, ec));
  succeed(json::object{{"size", received_}, {"sha256", digest}});
}

void FsChannel::finish_put_tree() {
  if (auto e = archive_reader_->finish()) return fail(*e);
  succeed(json::object{{"entries", extractor_->entries()}, {"bytes", extractor_->bytes()}});
}

void FsChannel::on_failed() {
  if (detached_) return;
  detached_ = true;
  release();
  host_.channel_finished(id_);
}

void FsChannel::abandon() {
  if (detached_) return;
  detached_ = true;
  release();
}

// ---- senders ----

asio::awaitable<bool> FsChannel::send(std::uint8_t stream, protocol::ByteView bytes) {
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    while (active() && !host_.may_send_data(id_)) {
      co_await host_.send_ready().wait();
    }
    if (!active()) co_return false;
    const std::size_t taken = session().send_data(id_, stream, bytes.subspan(offset));
    offset += taken;
    host_.wake_writer();
  }
  co_return active();
}

asio::awaitable<bool> FsChannel::send_end(std::uint8_t stream) {
  while (active() && !host_.room_to_send()) co_await host_.send_ready().wait();
  if (!active()) co_return false;
  session().send_data(id_, stream, {}, /*end=*/true);
  host_.wake_writer();
  co_return true;
}

asio::awaitable<void> FsChannel::send_entries() {
  auto self = shared_from_this();
  const bool manifest = request_.op == FsOp::manifest;
  const bool hashing = manifest || request_.hash;
  TreeWalker walker(target_, manifest || request_.recursive);
  std::string batch;
  std::uint64_t count = 0, bytes = 0;
  for (;;) {
    auto entry = walker.next();
    if (!entry) break;
    const std::string base = entry->path.substr(entry->path.rfind('/') + 1);
    if (request_.glob && !glob_match(*request_.glob, base)) continue;
    json::object o = info_json(entry->info);
    protocol::put_name(o, "path", entry->path);
    if (entry->info.type == FileType::file) {
      bytes += entry->info.size;
      if (hashing) {
        std::error_code ec;
        auto digest = hash_file(entry->location, nullptr, ec);
        if (ec) {
          fail(os_error(entry->path, ec));
          co_return;
        }
        o["sha256"] = *digest;
      }
    }
    batch += json::serialize(o);
    batch += '\n';
    ++count;
    if (batch.size() >= kEntryBatch) {
      if (!co_await send(protocol::stream_id::stdout_, protocol::as_bytes(batch))) co_return;
      batch.clear();
    }
  }
  if (walker.error()) {
    fail(os_error(walker.error_path(), walker.error()));
    co_return;
  }
  if (!batch.empty() && !co_await send(protocol::stream_id::stdout_, protocol::as_bytes(batch))) co_return;
  if (!co_await send_end(protocol::stream_id::stdout_)) co_return;
  json::object result{{"entries", count}};
  if (manifest) result["bytes"] = bytes;
  succeed(std::move(result));
}

asio::awaitable<void> FsChannel::send_file() {
  auto self = shared_from_this();
  std::error_code ec;
  auto in = open_for_reading(target_, request_.offset, ec);
  if (ec) {
    fail(os_error(request_.path, ec));
    co_return;
  }
  Sha256 hasher;
  std::vector<std::uint8_t> buf(kChunk);
  std::uint64_t sent = 0;
  for (;;) {
    // Read only what may be sent now: the rest stays in the file.
    while (active() && !host_.may_send_data(id_)) {
      co_await host_.send_ready().wait();
    }
    if (!active()) co_return;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), session().credit(id_)));
    const std::size_t n = in->read({buf.data(), want}, ec);
    if (ec) {
      fail(os_error(request_.path, ec));
      co_return;
    }
    if (n == 0) break;
    hasher.update({buf.data(), n});
    sent += n;
    if (!co_await send(protocol::stream_id::file, {buf.data(), n})) co_return;
  }
  if (!co_await send_end(protocol::stream_id::file)) co_return;
  succeed(json::object{{"size", sent}, {"sha256", hasher.finish_hex()}, {"file_size", in->size()}});
}

asio::awaitable<void> FsChannel::send_tree() {
  auto self = shared_from_this();
  TreeWalker walker(target_, /*recursive=*/true);
  protocol::ByteBuffer out;
  protocol::append_tree_archive_start(out);
  std::vector<std::uint8_t> buf(kChunk);
  std::uint64_t entries = 0, bytes = 0;
  for (;;) {
    auto entry = walker.next();
    if (!entry) break;
    if (entry->info.type == FileType::other) continue;  // sockets, devices: not sent
    protocol::TreeEntry header = archive_entry(*entry);
    if (auto invalid = protocol::validate_tree_entry(header)) {  // a name the format cannot carry
      fail({ErrorTag::io_error, entry->path + ": cannot be sent: " + invalid->message});
      co_return;
    }
    std::error_code ec;
    std::unique_ptr<ReadableFile> in;
    if (header.type == protocol::TreeEntryType::file) {
      in = open_for_reading(entry->location, 0, ec);
      if (ec) {
        fail(os_error(entry->path, ec));
        co_return;
      }
    }
    protocol::append_tree_entry(out, header);
    ++entries;
    if (in) {
      // Exactly the announced size: a file that shrank meanwhile is an error, one that grew
      // is cut at the size its header promised.
      std::uint64_t left = header.size;
      while (left > 0) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), left));
        const std::size_t n = in->read({buf.data(), want}, ec);
        if (ec || n == 0) {
          fail(ec ? os_error(entry->path, ec)
                  : ProtocolError{ErrorTag::io_error, entry->path + " shrank while being sent"});
          co_return;
        }
        out.append(protocol::ByteView{buf.data(), n});
        left -= n;
        bytes += n;
        if (out.size() >= kChunk) {
          if (!co_await send(protocol::stream_id::file, out.view())) co_return;
          out = protocol::ByteBuffer();
        }
      }
    }
    if (out.size() >= kChunk) {
      if (!co_await send(protocol::stream_id::file, out.view())) co_return;
      out = protocol::ByteBuffer();
    }
  }
  if (walker.error()) {
    fail(os_error(walker.error_path(), walker.error()));
    co_return;
  }
  protocol::append_tree_archive_end(out);
  if (!co_await send(protocol::stream_id::file, out.view())) co_return;
  if (!co_await send_end(protocol::stream_id::file)) co_return;
  succeed(json::object{{"entries", entries}, {"bytes", bytes}});
}

// ---- ending ----

void FsChannel::succeed(json::object result) {
  if (detached_) return;
  detached_ = true;
  result["type"] = "result";
  if (session().channel_open(id_)) {
    session().send_control(id_, result);
    session().close_channel(id_);
    host_.wake_writer();
  }
  release();
  host_.channel_finished(id_);
}

void FsChannel::fail(const ProtocolError& error) {
  if (detached_) return;
  session().fail_channel(id_, error);  // error + close
  host_.wake_writer();
  detached_ = true;
  release();
  host_.channel_finished(id_);
}

void FsChannel::release() {
  new_file_.reset();  // removes an unfinished temporary file
  extractor_.reset();
  archive_reader_.reset();
  host_.send_ready().notify();
}

}  // namespace remsh::agent
