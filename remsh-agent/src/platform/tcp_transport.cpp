#include "platform/tcp_transport.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>

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

}  // namespace remsh::agent
