// Notifier: wakes coroutines that wait for "something changed" on one thread.
//
// The agent runs on one io_context thread, so a waiter checks its condition and then
// waits, with no window in between for a notify() to slip through: the usual pattern is
//
//   while (!ready()) co_await notifier.wait();
//
// notify() wakes every current waiter (they re-check their own condition); it is not
// remembered for later waiters. Built on a steady_timer that never expires: cancel() is
// the wake-up.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace remsh::agent {

class Notifier {
 public:
  explicit Notifier(const boost::asio::any_io_executor& executor) : timer_(executor) {
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
  }

  // Returns after the next notify() (or when the wait is cancelled from outside).
  boost::asio::awaitable<void> wait() {
    boost::system::error_code ignored;  // operation_aborted is the wake-up
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
  }

  void notify() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace remsh::agent
