// TlsConnection: TLS on an agent's TCP connection, with OpenSSL reading and writing the
// socket itself. asio::ssl::stream keeps two record-sized buffers of its own and a BIO pair
// (~70 KiB per connection, touched for good); here an idle connection holds only OpenSSL's
// state, its record buffers given back while idle (SSL_MODE_RELEASE_BUFFERS). That is what
// lets one master hold thousands of idle agents (bench/run-load-bench).
//
// One reader and one writer may run at once (each waits for the socket on its own); OpenSSL
// is only ever called from the connection's executor. OpenSSL writes with write(2), so the
// process must ignore SIGPIPE (remsh-master does, in main).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <optional>
#include <tuple>

#include <openssl/ssl.h>

namespace remsh::master {

class TlsConnection {
 public:
  // `context` must outlive the connection; its modes should include SSL_MODE_RELEASE_BUFFERS.
  TlsConnection(boost::asio::ip::tcp::socket socket, SSL_CTX* context);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // The server side of the TLS handshake.
  boost::asio::awaitable<boost::system::error_code> accept();
  // Until read_some has something to return at once (or an error): a connection waits here
  // without a buffer (thousands of idle agents, none holding one).
  boost::asio::awaitable<std::tuple<boost::system::error_code>> wait_readable();
  // Some decrypted bytes (at least one), or an error (eof when the peer closed TLS).
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buffer);
  // All of `bytes`, or an error.
  boost::asio::awaitable<boost::system::error_code> write(boost::asio::const_buffer bytes);

  // Ends a read_some in progress with operation_aborted, also one about to wait again
  // (whose wake-up was already queued), and every later one. Later writes still work.
  void cancel_read();

  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  // After an OpenSSL call returned `result` (not success): the socket readiness it waits
  // for, or else the error that ends the connection.
  struct Next {
    std::optional<boost::asio::socket_base::wait_type> wait;
    boost::system::error_code error;
  };
  Next after(int result) const;
  // Puts a write buffer between OpenSSL and the socket for a write of more than one record
  // (false: none; one left by an interrupted write is used again), takes it away again, and
  // sends what it holds.
  bool batch_writes(std::size_t bytes);
  void unbatch_writes();
  boost::asio::awaitable<boost::system::error_code> flush();

  static constexpr std::size_t kRecordBytes = 16 * 1024;
  // Records gathered per write(2): 8 TLS records and their overhead.
  static constexpr long kWriteBatchBytes = 8 * (16 * 1024 + 64);

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_;
  bool read_cancelled_ = false;
};

}  // namespace remsh::master
