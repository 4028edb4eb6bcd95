// TlsConnection (the master's side of an agent's TLS link) against an asio::ssl client on
// loopback: bytes both ways under back-pressure, the write buffer always flushed, and a
// read cancelled while it waits.
#include "daemon/state_dir.hpp"
#include "daemon/tls_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "../temp_dir.hpp"

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace remsh::master;
using namespace std::chrono_literals;

// Bytes no two offsets of which repeat in a short cycle, so a lost or doubled record shows.
std::string numbered_bytes(std::size_t n, std::uint32_t salt) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u + salt) >> 13);
  return s;
}

struct Link {
  asio::io_context io;
  test::TempDir dir;
  StateDir state{dir.path() / "state"};
  ssl::context server_ctx{ssl::context::tls_server};
  ssl::context client_ctx{ssl::context::tls_client};
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};

  Link() {
    server_ctx.use_certificate_chain_file(state.cert_file().string());
    server_ctx.use_private_key_file(state.key_file().string(), ssl::context::pem);
    SSL_CTX_set_mode(server_ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(server_ctx.native_handle(), 1);
    client_ctx.set_verify_mode(ssl::verify_none);
  }
};

}  // namespace

TEST_CASE("tls connection: 8 MiB each way under back-pressure arrive byte-exact", "[tls]") {
  Link link;
  const std::string to_agent = numbered_bytes(8u << 20, 7), from_agent = numbered_bytes(8u << 20, 11);
  std::string agent_got, master_got, failure;
  auto note = [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      failure += x.what();
    }
  };

  asio::co_spawn(link.io, [&]() -> asio::awaitable<void> {
    TlsConnection tls(co_await link.acceptor.async_accept(asio::use_awaitable), link.server_ctx.native_handle());
    if (auto ec = co_await tls.accept()) throw boost::system::system_error(ec);
    asio::co_spawn(link.io, [&]() -> asio::awaitable<void> {
      // Writes that end mid-batch: their last records wait in the buffer for the flush.
      for (std::size_t at = 0; at < to_agent.size(); at += 100000) {
        const std::size_t n = std::min<std::size_t>(100000, to_agent.size() - at);
        if (auto ec = co_await tls.write(asio::buffer(to_agent.data() + at, n))) throw boost::system::system_error(ec);
      }
    }, note);
    std::string buf(70000, '\0');
    while (master_got.size() < from_agent.size()) {
      auto [ec, n] = co_await tls.read_some(asio::buffer(buf));
      if (ec) throw boost::system::system_error(ec);
      master_got.append(buf.data(), n);
    }
    asio::steady_timer settle(link.io);
    while (agent_got.size() < to_agent.size()) {
      settle.expires_after(5ms);
      co_await settle.async_wait(asio::use_awaitable);
    }
  }, note);

  asio::co_spawn(link.io, [&]() -> asio::awaitable<void> {
    ssl::stream<tcp::socket> agent(link.io, link.client_ctx);
    co_await agent.next_layer().async_connect(link.acceptor.local_endpoint(), asio::use_awaitable);
    co_await agent.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    asio::co_spawn(link.io, [&]() -> asio::awaitable<void> {
      co_await asio::async_write(agent, asio::buffer(from_agent), asio::use_awaitable);
    }, note);
    asio::steady_timer pause(link.io);
    char buf[16384];
    while (agent_got.size() < to_agent.size()) {  // a slow reader: the master's writes wait
      pause.expires_after(1ms);
      co_await pause.async_wait(asio::use_awaitable);
      agent_got.append(buf, co_await agent.async_read_some(asio::buffer(buf), asio::use_awaitable));
    }
  }, note);

  link.io.run_for(30s);
  INFO(failure);
  CHECK(failure.empty());
  CHECK(agent_got.size() == to_agent.size());
  CHECK(agent_got == to_agent);
  CHECK(master_got == from_agent);
}

TEST_CASE("tls connection: cancel_read ends a waiting read; writes still work", "[tls]") {
  Link link;
  error_code read_error;
  std::string agent_got;
  auto ignore = [](std::exception_ptr) {};
  asio::co_spawn(link.io, [&]() -> asio::awaitable<void> {
    TlsConnection tls(co_await link.acceptor.async_accept(asio::use_awaitable), link.server_ctx.native_handle());
    if (co_await tls.accept()) co_return;
    asio::steady_timer later(link.io, 50ms);
    later.async_wait([&](error_code) { tls.cancel_read(); });
    char buf[64];
    read_error = std::get<0>(co_await tls.read_some(asio::buffer(buf)));
    co_await tls.write(asio::buffer(std::string("still here")));
    asio::steady_timer settle(link.io, 2s);
    co_await settle.async_wait(asio::as_tuple(asio::use_awaitable));
  }, ignore);
  asio::co_spawn(link.io, [&]() -> asio::awaitable<void> {
    ssl::stream<tcp::socket> agent(link.io, link.client_ctx);
    co_await agent.next_layer().async_connect(link.acceptor.local_endpoint(), asio::use_awaitable);
    co_await agent.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    char buf[64];
    while (agent_got.size() < 10) agent_got.append(buf, co_await agent.async_read_some(asio::buffer(buf), asio::use_awaitable));
    link.io.stop();
  }, ignore);
  link.io.run_for(10s);
  CHECK(read_error == asio::error::operation_aborted);
  CHECK(agent_got == "still here");
}
