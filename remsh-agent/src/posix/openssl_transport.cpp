// The POSIX Transport (platform/transport.hpp): plain TCP, or TLS with OpenSSL.
//
// TLS policy (docs/protocol.md 2): 1.2 minimum, and 1.2 only with ECDHE key exchange and
// AEAD ciphers; 1.3 with OpenSSL's default suites (all AEAD). No CA verification and no SNI:
// the master's certificate is pinned by fingerprint, which is checked here after the
// handshake, before a single protocol byte is sent.
//
// OpenSSL reads and writes the socket itself, not through asio::ssl::stream: that stream
// moves one TLS record (16 KiB) per system call and per trip through the event loop, both
// ways. Here a read takes whatever records have arrived (read-ahead into a 64 KiB buffer)
// and a large write hands the kernel up to eight records at once.
#include "platform/transport.hpp"

#include "platform/first_of.hpp"
#include "platform/tcp_transport.hpp"

#include "posix/sigpipe.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <fcntl.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>

namespace remsh::agent {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

// The reader and the writer may wait at the same time, each for its own readiness; OpenSSL
// is only called from the agent's one thread.
class TlsTransport final : public Transport {
 public:
  TlsTransport(SSL_CTX* context, tcp::socket socket)
      : socket_(std::move(socket)), ssl_(SSL_new(context)), peer_(endpoint_text(socket_)) {
    if (ssl_ == nullptr) throw std::bad_alloc();
    posix_detail::ignore_sigpipe_once();  // OpenSSL writes with write(2): a reset peer is EPIPE
    socket_.non_blocking(true);
    SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
    SSL_set_connect_state(ssl_);
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  ~TlsTransport() override { SSL_free(ssl_); }
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  SSL* native_handle() { return ssl_; }

  asio::awaitable<void> handshake() {
    for (;;) {
      ERR_clear_error();
      const int r = SSL_connect(ssl_);
      if (r == 1) co_return;
      co_await wait_after(r);
    }
  }

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    const int want = static_cast<int>(std::min<std::size_t>(buf.size(), std::numeric_limits<int>::max()));
    for (;;) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, buf.data(), want);
      if (n > 0) co_return static_cast<std::size_t>(n);
      co_await wait_after(n);
    }
  }

  asio::awaitable<void> write(asio::const_buffer data) override {
    const bool batched = batch_writes(data.size());
    auto* at = static_cast<const char*>(data.data());
    std::size_t left = data.size();
    while (left > 0) {
      ERR_clear_error();
      const int n = SSL_write(ssl_, at, static_cast<int>(std::min<std::size_t>(left, 1u << 30)));
      if (n > 0) {
        at += n;
        left -= static_cast<std::size_t>(n);
      } else {
        co_await wait_after(n);
      }
    }
    if (!batched) co_return;
    BIO* out = SSL_get_wbio(ssl_);  // the last records may still be in the buffer
    for (;;) {
      ERR_clear_error();
      if (BIO_flush(out) > 0) break;
      if (!BIO_should_retry(out)) throw boost::system::system_error(errno_or(asio::error::broken_pipe));
      co_await wait(asio::socket_base::wait_write);
    }
    unbatch_writes();
  }

  // No TLS close_notify: the protocol has its own goodbye, and a peer that is gone would
  // only make us wait. Waits in progress end with operation_aborted.
  void close() override { close_socket(socket_); }
  std::string peer() const override { return peer_; }

 private:
  static constexpr std::size_t kRecordBytes = 16 * 1024;
  // Records gathered per write(2): 8 TLS records and their overhead.
  static constexpr long kWriteBatchBytes = 8 * (16 * 1024 + 64);

  // A write of more than one record goes through a buffer, so that several records leave in
  // one write(2). The buffer exists only during such a write (an idle agent holds none); one
  // that a failed write left in place serves the next write, which flushes and removes it.
  bool batch_writes(std::size_t bytes) {
    BIO* socket_bio = SSL_get_wbio(ssl_);
    if (BIO_method_type(socket_bio) != BIO_TYPE_SOCKET) return true;  // still in place
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
  void unbatch_writes() {
    BIO* socket_bio = BIO_next(SSL_get_wbio(ssl_));
    BIO_up_ref(socket_bio);
    SSL_set0_wbio(ssl_, socket_bio);  // frees the buffer, and the chain's reference
  }

  static boost::system::error_code errno_or(boost::system::error_code fallback) {
    return errno != 0 ? boost::system::error_code(errno, boost::system::system_category()) : fallback;
  }

  asio::awaitable<void> wait(asio::socket_base::wait_type what) {
    co_await socket_.async_wait(what, asio::use_awaitable);
  }

  // After an OpenSSL call returned `result` (not success): waits for the readiness it asks
  // for, or throws the error that ends the connection (eof when the master closed it).
  asio::awaitable<void> wait_after(int result) {
    const int why = SSL_get_error(ssl_, result);
    boost::system::error_code ec;
    switch (why) {
      case SSL_ERROR_WANT_READ:
        co_await wait(asio::socket_base::wait_read);
        co_return;
      case SSL_ERROR_WANT_WRITE:
        co_await wait(asio::socket_base::wait_write);
        co_return;
      case SSL_ERROR_ZERO_RETURN:
        ec = asio::error::eof;
        break;
      case SSL_ERROR_SYSCALL:  // no close_notify: the peer reset or closed the TCP connection
        ec = errno_or(asio::error::eof);
        break;
      default: {
        const unsigned long code = ERR_get_error();
        ec = code != 0 ? boost::system::error_code(static_cast<int>(code), asio::error::get_ssl_category())
                       : boost::system::error_code(asio::error::connection_aborted);
        break;
      }
    }
    ERR_clear_error();
    throw boost::system::system_error(ec);
  }

  tcp::socket socket_;
  SSL* ssl_;
  std::string peer_;
};

using ContextPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

// One context for every connection of the process: it holds no per-connection state.
SSL_CTX* tls_context() {
  static ContextPtr context = [] {
    ContextPtr c(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    if (!c) throw std::runtime_error("TLS: cannot create an OpenSSL context");
    SSL_CTX* native = c.get();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
      throw std::runtime_error("TLS: the cipher list is not supported by this OpenSSL");
    }
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);  // pinned by fingerprint below instead
    // An idle connection gives its record buffers back; TlsTransport::read_some reads ahead.
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(native, 1);
    SSL_CTX_set_default_read_buffer_len(native, 64 * 1024);
    return c;
  }();
  return context.get();
}

// SHA-256 of the peer's DER leaf certificate, lowercase hex; empty if it sent none.
std::string peer_fingerprint(SSL* ssl_handle) {
  X509* cert = SSL_get1_peer_certificate(ssl_handle);
  if (cert == nullptr) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const int ok = X509_digest(cert, EVP_sha256(), digest, &length);
  X509_free(cert);
  if (ok != 1) return {};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 15]);
  }
  return hex;
}

}  // namespace

// Asio creates sockets without close-on-exec: without it every process the agent starts
// would inherit the master connection (keeping it open after the agent dies, and able to
// write into it). The agent is single-threaded, so no fork() can slip in before this.
void keep_from_children(tcp::socket& socket) {
  const int fd = socket.native_handle();
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) {
    throw std::runtime_error("cannot set close-on-exec on the master connection");
  }
}

asio::awaitable<TlsClient> start_tls(tcp::socket socket, asio::steady_timer& deadline, const std::string& step) {
  auto tls = std::make_unique<TlsTransport>(tls_context(), std::move(socket));
  co_await before(deadline, tls->handshake(), step);
  std::string fingerprint = peer_fingerprint(tls->native_handle());
  co_return TlsClient{std::move(tls), std::move(fingerprint)};
}

}  // namespace remsh::agent
