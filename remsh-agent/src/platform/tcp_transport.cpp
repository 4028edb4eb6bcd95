#include "platform/tcp_transport.hpp"

#include "platform/first_of.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace remsh::agent {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(tcp::socket socket) : socket_(std::move(socket)), peer_(endpoint_text(socket_)) {}

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    co_return co_await socket_.async_read_some(buf, asio::use_awaitable);
  }
  asio::awaitable<void> write(asio::const_buffer data) override {
    co_await asio::async_write(socket_, data, asio::use_awaitable);
  }
  void close() override { close_socket(socket_); }
  std::string peer() const override { return peer_; }

 private:
  tcp::socket socket_;
  std::string peer_;
};

}  // namespace

std::string endpoint_text(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  const std::string host = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
}

void close_socket(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

std::unique_ptr<Transport> make_plain_transport(tcp::socket socket) {
  return std::make_unique<PlainTransport>(std::move(socket));
}

bool split_host_port(const std::string& address, std::string& host, std::string& port) {
  std::size_t colon;
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') return false;
    host = address.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = address.rfind(':');
    if (colon == std::string::npos) return false;
    host = address.substr(0, colon);
  }
  port = address.substr(colon + 1);
  return !host.empty() && !port.empty() &&
         std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

asio::awaitable<std::unique_ptr<Transport>> connect_transport(asio::any_io_executor executor,
                                                              TransportOptions options) {
  std::string host, port;
  if (!split_host_port(options.address, host, port)) {
    throw std::runtime_error("bad master address \"" + options.address + "\" (want host:port)");
  }
  asio::steady_timer deadline(executor);
  deadline.expires_after(options.timeout);
  const std::string where = "connecting to " + options.address;
  try {
    tcp::resolver resolver(executor);
    auto endpoints = co_await before(deadline, resolver.async_resolve(host, port, asio::use_awaitable), where);
    tcp::socket socket(executor);
    co_await before(deadline, asio::async_connect(socket, endpoints, asio::use_awaitable), where);
    socket.set_option(tcp::no_delay(true));
    keep_from_children(socket);
    if (options.plaintext) co_return make_plain_transport(std::move(socket));

    TlsClient tls = co_await start_tls(std::move(socket), deadline, "TLS handshake with " + options.address);
    std::string expected = options.fingerprint;
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (tls.fingerprint != expected) {
      tls.transport->close();
      throw FingerprintMismatch(expected, tls.fingerprint.empty() ? "(no certificate)" : tls.fingerprint);
    }
    co_return std::move(tls.transport);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(where + ": " + e.code().message());
  }
}

}  // namespace remsh::agent
