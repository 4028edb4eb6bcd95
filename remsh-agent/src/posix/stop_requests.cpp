// platform/stop_requests.hpp with signals: SIGTERM/SIGINT stop at once, SIGUSR1 gracefully.
#include "platform/stop_requests.hpp"

#include <boost/asio/signal_set.hpp>

#include <csignal>

namespace remsh::agent {

namespace {

class SignalStopRequests final : public StopRequests {
 public:
  SignalStopRequests(boost::asio::any_io_executor executor, StopCallback on_request)
      : signals_(executor, SIGINT, SIGTERM), on_request_(std::move(on_request)) {
    signals_.add(SIGUSR1);
    arm();
  }
  void cancel() override {
    cancelled_ = true;
    signals_.cancel();
  }

 private:
  void arm() {
    signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
      if (error || cancelled_) return;
      arm();  // a later SIGTERM still stops at once after a graceful request
      on_request_(signal_number == SIGUSR1, signal_number == SIGUSR1 ? "SIGUSR1"
                                            : signal_number == SIGINT ? "SIGINT"
                                                                      : "SIGTERM");
    });
  }

  boost::asio::signal_set signals_;
  StopCallback on_request_;
  bool cancelled_ = false;
};

}  // namespace

std::unique_ptr<StopRequests> listen_for_stop_requests(boost::asio::any_io_executor executor,
                                                       StopCallback on_request) {
  return std::make_unique<SignalStopRequests>(std::move(executor), std::move(on_request));
}

}  // namespace remsh::agent
