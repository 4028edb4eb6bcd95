// platform/stop_requests.hpp on Windows: Ctrl-C / Ctrl-Break in a console (SIGINT, SIGTERM
// through the C runtime) and the two named events of stop_events.hpp, waited on through IOCP.
#include "platform/stop_requests.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/windows/object_handle.hpp>

#include <windows.h>

#include <csignal>

#include "stop_events.hpp"

namespace remsh::agent {

namespace {

class WindowsStopRequests final : public StopRequests {
 public:
  WindowsStopRequests(boost::asio::any_io_executor executor, StopCallback on_request)
      : signals_(executor, SIGINT, SIGTERM),
        stop_(executor, make_event(false)),
        leave_(executor, make_event(true)),
        on_request_(std::move(on_request)) {
    arm_signals();
    arm_event(stop_, false);
    arm_event(leave_, true);
  }
  void cancel() override {
    cancelled_ = true;
    signals_.cancel();
    boost::system::error_code ignored;
    stop_.cancel(ignored);
    leave_.cancel(ignored);
  }

 private:
  static HANDLE make_event(bool graceful) {
    // Auto-reset: each SetEvent is one request.
    HANDLE h = CreateEventW(nullptr, FALSE, FALSE, win::stop_event_name(GetCurrentProcessId(), graceful).c_str());
    if (!h) throw std::runtime_error("cannot create the agent's stop event");
    return h;
  }
  void arm_signals() {
    signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
      if (error || cancelled_) return;
      arm_signals();
      on_request_(false, signal_number == SIGINT ? "Ctrl-C" : "SIGTERM");
    });
  }
  void arm_event(boost::asio::windows::object_handle& event, bool graceful) {
    event.async_wait([this, &event, graceful](const boost::system::error_code& error) {
      if (error || cancelled_) return;
      arm_event(event, graceful);
      on_request_(graceful, "remsh-agent stop" + std::string(graceful ? " --graceful" : ""));
    });
  }

  boost::asio::signal_set signals_;
  boost::asio::windows::object_handle stop_;
  boost::asio::windows::object_handle leave_;
  StopCallback on_request_;
  bool cancelled_ = false;
};

}  // namespace

std::unique_ptr<StopRequests> listen_for_stop_requests(boost::asio::any_io_executor executor,
                                                       StopCallback on_request) {
  return std::make_unique<WindowsStopRequests>(std::move(executor), std::move(on_request));
}

}  // namespace remsh::agent
