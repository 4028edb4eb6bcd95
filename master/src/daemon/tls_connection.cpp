#include "daemon/tls_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <new>

#include <openssl/err.h>

namespace remsh::master {

namespace asio = boost::asio;
using boost::system::error_code;

TlsConnection::TlsConnection(asio::ip::tcp::socket socket, SSL_CTX* context)
    : socket_(std::move(socket)), ssl_(SSL_new(context)) {
  if (ssl_ == nullptr) throw std::bad_alloc();
  socket_.non_blocking(true);
  SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
  // Writes may stop part-way and resume with the same bytes from wherever they now are.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsConnection::~TlsConnection() { SSL_free(ssl_); }

TlsConnection::Next TlsConnection::after(int result) const {
  const int why = SSL_get_error(ssl_, result);
  const int saved_errno = errno;
  error_code ec;
  switch (why) {
    case SSL_ERROR_WANT_READ:
      return {asio::socket_base::wait_read, {}};
    case SSL_ERROR_WANT_WRITE:
      return {asio::socket_base::wait_write, {}};
    case SSL_ERROR_ZERO_RETURN:
      ec = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL:
      // No TLS close_notify: the peer reset or closed the TCP connection.
      ec = saved_errno != 0 ? error_code(saved_errno, boost::system::system_category()) : error_code(asio::error::eof);
      break;
    default: {
      const unsigned long code = ERR_get_error();
      ec = code != 0 ? error_code(static_cast<int>(code), asio::error::get_ssl_category())
                     : error_code(asio::error::connection_aborted);
      break;
    }
  }
  ERR_clear_error();
  return {std::nullopt, ec};
}

// The waits are awaited here, not in a helper coroutine: each coroutine frame on the path
// where a connection waits is held once per connected agent.
asio::awaitable<error_code> TlsConnection::accept() {
  for (;;) {
    ERR_clear_error();
    const int r = SSL_accept(ssl_);
    if (r == 1) co_return error_code{};
    const Next next = after(r);
    if (!next.wait) co_return next.error ? next.error : error_code(asio::error::connection_aborted);
    auto [ec] = co_await socket_.async_wait(*next.wait, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return ec;
  }
}

void TlsConnection::cancel_read() {
  read_cancelled_ = true;
  error_code ignored;
  socket_.cancel(ignored);
}

asio::awaitable<std::tuple<error_code>> TlsConnection::wait_readable() {
  if (read_cancelled_) co_return std::tuple{error_code(asio::error::operation_aborted)};
  if (SSL_has_pending(ssl_) == 1) co_return std::tuple{error_code{}};  // bytes OpenSSL already holds
  co_return co_await socket_.async_wait(asio::socket_base::wait_read, asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<std::tuple<error_code, std::size_t>> TlsConnection::read_some(asio::mutable_buffer buffer) {
  const int want = static_cast<int>(std::min<std::size_t>(buffer.size(), std::numeric_limits<int>::max()));
  for (;;) {
    if (read_cancelled_) co_return std::tuple{error_code(asio::error::operation_aborted), std::size_t{0}};
    ERR_clear_error();
    const int n = SSL_read(ssl_, buffer.data(), want);
    if (n > 0) co_return std::tuple{error_code{}, static_cast<std::size_t>(n)};
    const Next next = after(n);
    if (!next.wait) co_return std::tuple{next.error ? next.error : error_code(asio::error::eof), std::size_t{0}};
    auto [ec] = co_await socket_.async_wait(*next.wait, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return std::tuple{ec, std::size_t{0}};
  }
}

// A write of more than one record goes through a buffer, so that several records leave in
// one write(2): OpenSSL hands over one 16 KiB record at a time, and a system call (and a TCP
// segment) per record was most of the cost of a fast stream. The buffer exists only during
// such a write: thousands of idle agents hold none.
asio::awaitable<error_code> TlsConnection::write(asio::const_buffer bytes) {
  const bool batched = batch_writes(bytes.size());
  auto* at = static_cast<const char*>(bytes.data());
  std::size_t left = bytes.size();
  error_code result;
  while (left > 0) {
    ERR_clear_error();
    const int n = SSL_write(ssl_, at, static_cast<int>(std::min<std::size_t>(left, 1u << 30)));
    if (n > 0) {
      at += n;
      left -= static_cast<std::size_t>(n);
      continue;
    }
    const Next next = after(n);
    if (!next.wait) {
      result = next.error ? next.error : error_code(asio::error::broken_pipe);
      break;
    }
    auto [ec] = co_await socket_.async_wait(*next.wait, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      result = ec;
      break;
    }
  }
  if (batched) {
    if (!result) result = co_await flush();
    unbatch_writes();
  }
  co_return result;
}

bool TlsConnection::batch_writes(std::size_t bytes) {
  BIO* socket_bio = SSL_get_wbio(ssl_);
  if (BIO_method_type(socket_bio) != BIO_TYPE_SOCKET) return true;  // left by an interrupted write
  if (bytes <= kRecordBytes) return false;  // one record: nothing to gather
  BIO* buffer_bio = BIO_new(BIO_f_buffer());
  if (buffer_bio == nullptr || BIO_set_write_buffer_size(buffer_bio, kWriteBatchBytes) != 1) {
    BIO_free(buffer_bio);
    return false;  // short of memory: one record per write(2) still works
  }
  BIO_up_ref(socket_bio);  // the chain's reference; SSL_set0_wbio releases the one it had
  SSL_set0_wbio(ssl_, BIO_push(buffer_bio, socket_bio));
  return true;
}

void TlsConnection::unbatch_writes() {
  BIO* socket_bio = BIO_next(SSL_get_wbio(ssl_));
  BIO_up_ref(socket_bio);
  SSL_set0_wbio(ssl_, socket_bio);  // frees the buffer, and the chain's reference
}

asio::awaitable<error_code> TlsConnection::flush() {
  BIO* out = SSL_get_wbio(ssl_);
  for (;;) {
    ERR_clear_error();
    if (BIO_flush(out) > 0) co_return error_code{};
    if (!BIO_should_retry(out)) {
      const int saved_errno = errno;
      ERR_clear_error();
      co_return saved_errno != 0 ? error_code(saved_errno, boost::system::system_category())
                                 : error_code(asio::error::broken_pipe);
    }
    auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_write, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return ec;
  }
}

}  // namespace remsh::master
