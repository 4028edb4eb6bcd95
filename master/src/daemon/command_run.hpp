// CommandRun: one command on one agent, seen from the master. It turns the exec channel's
// events into stored log chunks, a stored result, and output for whoever watches (API
// clients); and it grants the agent credit only once every byte is stored and every
// watcher has taken it, so a slow watcher slows the command instead of filling memory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "daemon/agent_link.hpp"
#include "daemon/output_watcher.hpp"
#include "daemon/secret_masker.hpp"
#include "remsh/protocol/stream_codec.hpp"
#include "remsh/protocol/messages.hpp"
#include "remsh/protocol/session.hpp"
#include "storage/storage.hpp"

namespace remsh::master {


class CommandRun : public ChannelUser, public std::enable_shared_from_this<CommandRun> {
 public:
  CommandRun(std::int64_t id, Storage& storage, std::shared_ptr<AgentLink> link);

  std::int64_t id() const { return id_; }
  std::uint32_t channel() const { return channel_; }
  bool finished() const { return finished_; }
  // Records where the command runs, so that a restarted master can take it up again.
  void set_channel(std::uint32_t channel) override;
  // A restarted master took the command up again on `channel` (docs/protocol.md 7.4): its
  // log goes on at chunk `next_chunk`; its input is gone with the client that gave it.
  void reattached(std::uint32_t channel, std::int64_t next_chunk);
  // With a pty, input goes to the terminal stream (3), not stdin (0).
  void set_pty(bool pty) { input_stream_ = pty ? protocol::stream_id::tty : protocol::stream_id::stdin_; }

  // A job step's secrets: replaced by *** in the output before anything stores or relays it
  // (the masked bytes are compressed again for the log store).
  void mask_secrets(std::shared_ptr<SecretMasker> masker) { masker_ = std::move(masker); }

  void watch(std::shared_ptr<OutputWatcher> watcher);
  // A watcher the run keeps alive itself until it finishes (a shell's recorder outlives the
  // client that opened the shell).
  void watch_to_the_end(std::shared_ptr<OutputWatcher> watcher);

  // From the agent (via AgentLink).
  void on_message(const protocol::ControlMessage& message) override;
  void on_data(protocol::ChannelData data) override;
  void on_failed(const protocol::ProtocolError& error) override;
  void on_link_gone(const std::string& why) override;

  // From a client.
  void send_input(protocol::ByteView bytes);
  void end_input();
  void send_signal(const std::string& name);
  void resize(std::uint32_t cols, std::uint32_t rows);
  bool input_blocked() const;  // no credit for stdin right now

  // Writes the chunks gathered since the last call (AgentLink batches a whole read).
  void flush_log() override;
  // The chunks gathered and not yet written, in order (a log reader's latest output).
  const std::vector<LogChunk>& unstored_log() const { return pending_log_; }
  bool log_flush_due() const override;
  std::string describe() const override { return "command " + std::to_string(id_); }

 private:
  void finish(CommandFinish how);
  // Grants the agent `bytes` of credit once all `holders` (the log store, each watcher) took them.
  std::function<void()> credit_when_done(std::size_t bytes, int holders);
  template <typename F>
  void for_each_watcher(F f);

  std::int64_t id_;
  Storage& storage_;
  std::weak_ptr<AgentLink> link_;
  std::uint32_t channel_ = 0;
  std::vector<std::weak_ptr<OutputWatcher>> watchers_;
  std::vector<std::shared_ptr<OutputWatcher>> kept_watchers_;
  std::vector<LogChunk> pending_log_;
  std::size_t pending_log_bytes_ = 0;  // stream bytes in pending_log_
  bool pending_log_ends_ = false;      // pending_log_ holds an end of stream
  std::vector<std::function<void()>> after_flush_;
  std::int64_t next_index_ = 0;
  bool started_ = false;
  bool finished_ = false;
  std::optional<protocol::ExecResult> result_;
  protocol::ByteBuffer input_backlog_;  // from the client, waiting for credit
  bool input_ended_ = false;
  bool input_eof_pending_ = false;
  std::uint8_t input_stream_ = protocol::stream_id::stdin_;
  std::shared_ptr<SecretMasker> masker_;
  std::map<std::uint8_t, protocol::StreamEncoder> mask_encoders_;  // per output stream
  std::map<std::uint8_t, bool> mask_ended_;                         // streams whose end came

  // The masked form of an output frame: what the agent sent, with secrets replaced.
  protocol::ChannelData masked(protocol::ChannelData data);

 public:
  // Sends input that waited for credit; called by AgentLink on ChannelCredit.
  void pump_input() override;
};

boost::json::object command_json(const CommandRecord& record);

}  // namespace remsh::master
