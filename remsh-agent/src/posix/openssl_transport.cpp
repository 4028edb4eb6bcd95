// The POSIX Transport (platform/transport.hpp): plain TCP, or TLS with OpenSSL through
// asio::ssl.
//
// TLS policy (docs/protocol.md 2): 1.2 minimum, and 1.2 only with ECDHE key exchange and
// AEAD ciphers; 1.3 with OpenSSL's default suites (all AEAD). No CA verification and no SNI:
// the master's certificate is pinned by fingerprint, which is checked here after the
// handshake, before a single protocol byte is sent.
#include "platform/transport.hpp"

#include "platform/first_of.hpp"
#include "platform/tcp_transport.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <fcntl.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <variant>

namespace remsh::agent {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

class TlsTransport final : public Transport {
 public:
  TlsTransport(std::unique_ptr<ssl::context> context, tcp::socket socket)
      : context_(std::move(context)), stream_(std::move(socket), *context_),
        peer_(endpoint_text(stream_.next_layer())) {}

  ssl::stream<tcp::socket>& stream() { return stream_; }

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    co_return co_await stream_.async_read_some(buf, asio::use_awaitable);
  }
  asio::awaitable<void> write(asio::const_buffer data) override {
    co_await asio::async_write(stream_, data, asio::use_awaitable);
  }
  // No TLS close_notify: the protocol has its own goodbye, and a peer that is gone would
  // only make us wait.
  void close() override { close_socket(stream_.next_layer()); }
  std::string peer() const override { return peer_; }

 private:
  std::unique_ptr<ssl::context> context_;  // outlives the stream that uses it
  ssl::stream<tcp::socket> stream_;
  std::string peer_;
};

std::unique_ptr<ssl::context> make_tls_context() {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    throw std::runtime_error("TLS: the cipher list is not supported by this OpenSSL");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  context->set_verify_mode(ssl::verify_none);  // pinned by fingerprint below instead
  return context;
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
  auto tls = std::make_unique<TlsTransport>(make_tls_context(), std::move(socket));
  co_await before(deadline, tls->stream().async_handshake(ssl::stream_base::client, asio::use_awaitable), step);
  std::string fingerprint = peer_fingerprint(tls->stream().native_handle());
  co_return TlsClient{std::move(tls), std::move(fingerprint)};
}

}  // namespace remsh::agent
