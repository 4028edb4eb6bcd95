// Notifier: wakes coroutines waiting on one strand-less, single-threaded executor. Waiters
// re-check their condition after waking, so a notify() with nobody waiting is harmless and
// no wake-up is lost (nothing runs between a check and the wait on one thread).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace remsh::master {

class Notifier {
 public:
  explicit Notifier(boost::asio::any_io_executor executor) : timer_(executor) {
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  // Not a coroutine itself: it hands over the timer's awaitable, one frame less per waiter.
  boost::asio::awaitable<std::tuple<boost::system::error_code>> wait() {
    return timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  void notify() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace remsh::master
