// How a running agent hears that it should stop: at once (running commands are killed, a
// goodbye is said) or gracefully (finish what runs, accept nothing new, then leave).
// POSIX: SIGTERM/SIGINT and SIGUSR1 (posix/stop_requests.cpp). Windows: Ctrl-C and the named
// events `remsh-agent stop` sets (windows/stop_requests.cpp); the service's stop control too.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>

namespace remsh::agent {

class StopRequests {
 public:
  virtual ~StopRequests() = default;
  // Stops listening (the agent is over); no callback comes after this.
  virtual void cancel() = 0;
};

// `on_request(graceful, what)` runs on `executor` for every request; `what` names it for the
// log ("SIGTERM", "a stop request from process 42", ...). Listening lasts until cancel().
using StopCallback = std::function<void(bool graceful, const std::string& what)>;
std::unique_ptr<StopRequests> listen_for_stop_requests(boost::asio::any_io_executor executor,
                                                       StopCallback on_request);

}  // namespace remsh::agent
