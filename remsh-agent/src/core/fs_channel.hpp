// FsChannel: one `fs` channel (docs/protocol.md 9.6): a single file-system operation.
//
//   open --> resolve the path(s) in the work area --> opened (or error + close)
//   stat, mkdir, remove, rename, copy, chmod, hash --> done at once: result, close
//   list, manifest --> entries (JSON lines) on stream 1 as credit allows, result, close
//   read, get_tree --> the file / a tree archive on stream 4 as credit allows, result, close
//   write, put_tree <-- stream 4 from the master, written as it arrives (credit returned
//                       once on disk); at its end: verify, rename into place, result, close
//   master's close / error, or the session gone --> stop; temporary files are removed
//
// Senders read only what credit and the replay buffer let them send, like exec pumps: a
// stalled master leaves the file unread rather than filling memory.
#pragma once

#include "core/agent_channel.hpp"
#include "core/channel_host.hpp"
#include "core/work_area.hpp"
#include "platform/file_system.hpp"
#include "platform/sha256.hpp"
#include "remsh/protocol/fs_request.hpp"
#include "remsh/protocol/tree_archive.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace remsh::agent {

class TreeExtractor;

class FsChannel : public AgentChannel, public std::enable_shared_from_this<FsChannel> {
 public:
  FsChannel(ChannelHost& host, std::uint32_t id, const WorkArea& area);
  ~FsChannel() override;
  FsChannel(const FsChannel&) = delete;
  FsChannel& operator=(const FsChannel&) = delete;

  void start(const protocol::FsRequest& request);
  void on_message(const protocol::ControlMessage& message) override;
  void on_data(protocol::ChannelData data) override;
  void on_failed() override;
  void abandon() override;

 private:
  using Outcome = std::variant<boost::json::object, protocol::ProtocolError>;

  protocol::Session& session() { return host_.session(); }
  bool active() const { return !detached_; }

  Outcome run_immediate();
  Outcome do_stat();
  Outcome do_mkdir();
  Outcome do_remove();
  Outcome do_rename();
  Outcome do_copy();
  Outcome do_chmod();
  Outcome do_hash();
  std::optional<protocol::ProtocolError> begin_write();
  std::optional<protocol::ProtocolError> begin_put_tree();
  void finish_write();
  void finish_put_tree();

  boost::asio::awaitable<void> send_entries();
  boost::asio::awaitable<void> send_file();
  boost::asio::awaitable<void> send_tree();
  // Sends all of `bytes` on `stream` as credit and the replay buffer allow; false when the
  // channel ended meanwhile.
  boost::asio::awaitable<bool> send(std::uint8_t stream, protocol::ByteView bytes);
  boost::asio::awaitable<bool> send_end(std::uint8_t stream);
  void spawn(boost::asio::awaitable<void> body);

  void succeed(boost::json::object result);
  void fail(const protocol::ProtocolError& error);
  void release();

  ChannelHost& host_;
  const std::uint32_t id_;
  const WorkArea& area_;
  protocol::FsRequest request_;
  std::filesystem::path target_;  // the resolved `path`

  // write
  std::unique_ptr<NewFile> new_file_;
  std::unique_ptr<Sha256> hasher_;
  std::uint64_t received_ = 0;
  // put_tree
  std::unique_ptr<TreeExtractor> extractor_;
  std::unique_ptr<protocol::TreeArchiveReader> archive_reader_;

  bool detached_ = false;  // we sent close, or the session is gone: no more session calls
};

}  // namespace remsh::agent
