// first_of(a, b): runs two awaitables at once and returns with whichever completes first,
// success or failure, cancelling the other (and waiting for it to wind down).
//
// Why not Asio's `a || b`: that operator waits for the first *success*, so a connect that
// fails at once (refused) against a deadline timer would sit until the deadline. Here a
// failure wins the race like a result does, and is rethrown. Used for deadlines and for
// abandoning a connection attempt when the agent stops.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace remsh::agent {

namespace first_of_detail {

template <typename T>
struct Value {
  using type = T;
};
template <>
struct Value<void> {
  using type = std::monostate;
};

// The result travels in an optional, so T needs no default constructor.
template <typename T>
boost::asio::awaitable<std::optional<typename Value<T>::type>> wrap(boost::asio::awaitable<T> a) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
    co_return std::monostate{};
  } else {
    co_return co_await std::move(a);
  }
}

}  // namespace first_of_detail

template <typename A, typename B>
boost::asio::awaitable<std::variant<typename first_of_detail::Value<A>::type,
                                    typename first_of_detail::Value<B>::type>>
first_of(boost::asio::awaitable<A> a, boost::asio::awaitable<B> b) {
  namespace asio = boost::asio;
  using Result = std::variant<typename first_of_detail::Value<A>::type,
                              typename first_of_detail::Value<B>::type>;
  auto executor = co_await asio::this_coro::executor;
  // Named, not temporaries in the co_await expression: GCC 12 mishandles temporaries with
  // destructors that live across a suspension point.
  auto group = asio::experimental::make_parallel_group(
      asio::co_spawn(executor, first_of_detail::wrap(std::move(a)), asio::deferred),
      asio::co_spawn(executor, first_of_detail::wrap(std::move(b)), asio::deferred));
  auto [order, error_a, value_a, error_b, value_b] =
      co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  if (order[0] == 0) {
    if (error_a) std::rethrow_exception(error_a);
    co_return Result{std::in_place_index<0>, std::move(*value_a)};
  }
  if (error_b) std::rethrow_exception(error_b);
  co_return Result{std::in_place_index<1>, std::move(*value_b)};
}

// Awaits op, or throws std::runtime_error("<what>: timed out") once the shared deadline
// passes: one deadline for every step of connecting (resolve, connect, handshake).
template <typename T>
boost::asio::awaitable<T> before(boost::asio::steady_timer& deadline, boost::asio::awaitable<T> op,
                                 const std::string& what) {
  auto r = co_await first_of(std::move(op), deadline.async_wait(boost::asio::use_awaitable));
  if (r.index() == 1) throw std::runtime_error(what + ": timed out");
  if constexpr (!std::is_void_v<T>) co_return std::get<0>(std::move(r));
}

}  // namespace remsh::agent
