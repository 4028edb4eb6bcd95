#include "daemon/agent_fs_call.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon/fs_relay.hpp"
#include "daemon/notifier.hpp"
#include "daemon/output_watcher.hpp"

namespace remsh::master {

namespace asio = boost::asio;
namespace json = boost::json;

struct AgentFsCall::Watcher : OutputWatcher {
  explicit Watcher(asio::any_io_executor executor) : done(executor) {}
  void on_started(std::int64_t) override {}
  void on_output(OutputChunk chunk, std::function<void()> taken) override {
    if (!finished && sink && !chunk.bytes->empty()) {
      try {
        sink(*chunk.bytes);
      } catch (const std::exception& e) {
        end({}, "io-error", e.what());
        if (on_sink_failed) on_sink_failed();
      }
    }
    taken();
  }
  void on_finished(const json::object& record) override { end(record, "", ""); }
  void on_error(const std::string& tag, const std::string& message) override { end({}, tag, message); }
  void end(std::optional<json::object> result, const std::string& tag, const std::string& message) {
    if (finished) return;
    finished = true;
    outcome.result = std::move(result);
    outcome.tag = tag;
    outcome.message = message;
    done.notify();
  }

  Sink sink;
  std::function<void()> on_sink_failed;
  Notifier done;
  bool finished = false;
  FsCallOutcome outcome;
};

AgentFsCall::AgentFsCall(std::shared_ptr<AgentLink> link, protocol::FsRequest request)
    : link_(std::move(link)), request_(std::move(request)) {}

AgentFsCall::~AgentFsCall() {
  if (relay_) relay_->cancel();
}

void AgentFsCall::cancel(const std::string& tag, const std::string& message) {
  if (!watcher_ || watcher_->finished) return;
  if (relay_) relay_->cancel();
  watcher_->end({}, tag, message);
}

asio::awaitable<FsCallOutcome> AgentFsCall::run() {
  auto executor = co_await asio::this_coro::executor;
  watcher_ = std::make_shared<Watcher>(executor);
  watcher_->sink = sink_;
  relay_ = std::make_shared<FsRelay>(link_, watcher_);
  // Weak: the relay holds the watcher, so a strong pointer back would keep both alive forever.
  watcher_->on_sink_failed = [weak = std::weak_ptr<FsRelay>(relay_)] {
    if (auto relay = weak.lock()) relay->cancel();
  };
  if (!link_->online()) {
    watcher_->end({}, "agent-offline", "agent " + link_->name() + " is not connected");
  } else if (auto started = link_->start(request_.to_json(), relay_); !started) {
    watcher_->end({}, started.tag, started.message);
  }
  if (source_) {
    asio::steady_timer pause(executor);
    try {
      for (std::string piece = source_(); !watcher_->finished && !piece.empty(); piece = source_()) {
        relay_->send_input(protocol::as_bytes(piece));
        // Read no further than the agent accepts (its credit), as the API does for a client.
        while (relay_->input_blocked() && !watcher_->finished) {
          pause.expires_after(std::chrono::milliseconds(1));
          co_await pause.async_wait(asio::use_awaitable);
        }
      }
      if (!watcher_->finished) relay_->end_input();
    } catch (const std::exception& e) {
      relay_->cancel();
      watcher_->end({}, "io-error", e.what());
    }
  }
  while (!watcher_->finished) co_await watcher_->done.wait();
  co_return watcher_->outcome;
}

asio::awaitable<FsCallOutcome> run_fs_call(std::shared_ptr<AgentLink> link, protocol::FsRequest request,
                                           AgentFsCall::Sink sink, AgentFsCall::Source source,
                                           const FsCallTracker& running) {
  auto fs = std::make_shared<AgentFsCall>(std::move(link), std::move(request));
  if (sink) fs->set_sink(std::move(sink));
  if (source) fs->set_source(std::move(source));
  running(fs);
  FsCallOutcome outcome = co_await fs->run();
  running(nullptr);
  co_return outcome;
}

std::string failed_step_state(const FsCallOutcome& o) {
  if (o.tag == "agent-lost" || o.tag == "agent-offline") return "lost";
  if (o.tag == "cancelled") return "cancelled";
  if (o.tag == "timeout") return "timed-out";
  return "failure";
}

}  // namespace remsh::master
