// AgentFsCall: one file operation (docs/protocol.md 9.6) that the master itself runs on an
// agent — a job's work-dir set-up, upload or download — awaited as a coroutine. It rides on
// FsRelay like a client's operation, so flow control is the same end to end: the agent gets
// credit back only once `sink` took its bytes, and `source` is read only as fast as the agent
// accepts them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/agent_link.hpp"
#include "remsh/protocol/byte_buffer.hpp"
#include "remsh/protocol/fs_request.hpp"

namespace remsh::master {

struct FsCallOutcome {
  std::optional<boost::json::object> result;  // the agent's `result`, when it succeeded
  std::string tag;                             // else why not, with a stable tag
  std::string message;
  bool ok() const { return result.has_value(); }
};

class AgentFsCall {
 public:
  // Takes the bytes the agent sends; may throw (the operation is then abandoned, "io-error").
  using Sink = std::function<void(protocol::ByteView)>;
  // The next piece of what the agent is sent; empty at the end. May throw, as above.
  using Source = std::function<std::string()>;

  AgentFsCall(std::shared_ptr<AgentLink> link, protocol::FsRequest request);
  ~AgentFsCall();
  void set_sink(Sink sink) { sink_ = std::move(sink); }
  void set_source(Source source) { source_ = std::move(source); }

  boost::asio::awaitable<FsCallOutcome> run();
  // Abandons the operation (a job cancelled or out of time): run() ends with `tag`.
  void cancel(const std::string& tag, const std::string& message);

 private:
  struct Watcher;
  std::shared_ptr<AgentLink> link_;
  protocol::FsRequest request_;
  Sink sink_;
  Source source_;
  std::shared_ptr<Watcher> watcher_;
  std::shared_ptr<class FsRelay> relay_;
};

// Runs one operation, telling `running` about it while it runs (and nullptr after), so that
// a job's cancel or timeout can abandon it.
using FsCallTracker = std::function<void(std::shared_ptr<AgentFsCall>)>;
boost::asio::awaitable<FsCallOutcome> run_fs_call(std::shared_ptr<AgentLink> link, protocol::FsRequest request,
                                                  AgentFsCall::Sink sink, AgentFsCall::Source source,
                                                  const FsCallTracker& running);

// How a job step ends whose operation failed: lost (the agent went away), cancelled,
// timed-out, or failure.
std::string failed_step_state(const FsCallOutcome& outcome);

}  // namespace remsh::master
