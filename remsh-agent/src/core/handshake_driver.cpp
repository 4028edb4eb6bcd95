#include "core/handshake_driver.hpp"

#include "platform/first_of.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <vector>

namespace remsh::agent {
namespace asio = boost::asio;

asio::awaitable<void> drive_handshake(Transport& transport, protocol::AgentHandshake& handshake,
                                      std::chrono::seconds timeout) {
  asio::steady_timer deadline(co_await asio::this_coro::executor);
  deadline.expires_after(timeout);
  std::vector<std::uint8_t> buf(16 * 1024);
  handshake.start();
  for (;;) {
    protocol::ByteBuffer& out = handshake.outgoing();
    if (!out.empty()) {
      protocol::ByteBuffer chunk;
      std::swap(chunk, out);
      auto r = co_await first_of(transport.write(asio::buffer(chunk.data(), chunk.size())),
                                 deadline.async_wait(asio::use_awaitable));
      if (r.index() == 1) throw std::runtime_error("handshake with the master timed out");
    }
    if (handshake.done()) co_return;
    std::size_t n = 0;
    try {
      auto r = co_await first_of(transport.read_some(asio::buffer(buf)), deadline.async_wait(asio::use_awaitable));
      if (r.index() == 1) throw std::runtime_error("handshake with the master timed out");
      n = std::get<0>(r);
    } catch (const boost::system::system_error& e) {
      if (e.code() == asio::error::eof) {
        throw std::runtime_error("the master closed the connection during the handshake");
      }
      throw std::runtime_error("handshake: " + e.code().message());
    }
    if (auto error = handshake.receive(protocol::ByteView{buf.data(), n})) throw HandshakeError(*error);
  }
}

}  // namespace remsh::agent
