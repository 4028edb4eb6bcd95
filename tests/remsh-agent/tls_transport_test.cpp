// The POSIX TLS transport against an in-process TLS server with a fresh self-signed
// certificate: the pinned fingerprint is accepted, any other is refused, and a TLS 1.2-only
// server (what Wine's SChannel offers) with an ECDHE + AEAD suite works.
#include "platform/transport.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace remsh::agent;
using namespace std::chrono_literals;

struct Certificate {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
  std::string fingerprint;  // SHA-256 of the DER certificate, hex
};

Certificate make_certificate() {
  Certificate c;
  c.key.reset(EVP_EC_gen("P-256"));
  REQUIRE(c.key);
  c.cert.reset(X509_new());
  X509* x = c.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, c.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("remsh-test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  REQUIRE(X509_sign(x, c.key.get(), EVP_sha256()) > 0);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(X509_digest(x, EVP_sha256(), md, &len) == 1);
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned i = 0; i < len; ++i) {
    c.fingerprint.push_back(kDigits[md[i] >> 4]);
    c.fingerprint.push_back(kDigits[md[i] & 15]);
  }
  return c;
}

struct Outcome {
  std::string received;  // what the client read
  std::string error;     // what connect_transport threw
  bool mismatch = false;
  std::string mismatch_got;
};

// Serves one TLS connection that sends "hello over tls" and connects to it. With
// `tls12_cipher` the server speaks TLS 1.2 only, with that one cipher suite.
Outcome connect_to_server(const Certificate& cert, const std::string& pin,
                 const std::optional<std::string>& tls12_cipher = std::nullopt) {
  asio::io_context io;
  ssl::context server_ctx(ssl::context::tls_server);
  REQUIRE(SSL_CTX_use_certificate(server_ctx.native_handle(), cert.cert.get()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(server_ctx.native_handle(), cert.key.get()) == 1);
  if (tls12_cipher) {
    SSL_CTX_set_max_proto_version(server_ctx.native_handle(), TLS1_2_VERSION);
    REQUIRE(SSL_CTX_set_cipher_list(server_ctx.native_handle(), tls12_cipher->c_str()) == 1);
  }
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const auto port = acceptor.local_endpoint().port();
  auto ignore = [](std::exception_ptr) {};

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    ssl::stream<tcp::socket> stream(co_await acceptor.async_accept(asio::use_awaitable), server_ctx);
    co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
    const std::string hello = "hello over tls";
    co_await asio::async_write(stream, asio::buffer(hello), asio::use_awaitable);
    char buf[16];
    boost::system::error_code ec;  // wait for the client to go away
    co_await stream.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
  }, ignore);

  Outcome outcome;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    TransportOptions options;
    options.address = "127.0.0.1:" + std::to_string(port);
    options.fingerprint = pin;
    options.timeout = 10s;
    try {
      auto transport = co_await connect_transport(io.get_executor(), options);
      std::string got;
      char buf[64];
      while (got.size() < 14) {
        const std::size_t n = co_await transport->read_some(asio::buffer(buf));
        got.append(buf, n);
      }
      outcome.received = got;
      transport->close();
    } catch (const FingerprintMismatch& e) {
      outcome.mismatch = true;
      outcome.mismatch_got = e.got();
      outcome.error = e.what();
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
    acceptor.close();
  }, ignore);
  io.run_for(15s);
  return outcome;
}

}  // namespace

TEST_CASE("tls transport: the pinned certificate is accepted", "[transport]") {
  const Certificate cert = make_certificate();
  const Outcome o = connect_to_server(cert, cert.fingerprint);
  INFO(o.error);
  CHECK(o.received == "hello over tls");
  // Upper-case pins (typed by hand) are the same fingerprint.
  std::string upper = cert.fingerprint;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  CHECK(connect_to_server(cert, upper).received == "hello over tls");
}

TEST_CASE("tls transport: another certificate is refused with both fingerprints", "[transport]") {
  const Certificate cert = make_certificate();
  const std::string wrong(64, '0');
  const Outcome o = connect_to_server(cert, wrong);
  CHECK(o.received.empty());
  CHECK(o.mismatch);
  CHECK(o.mismatch_got == cert.fingerprint);
  CHECK(o.error == "master certificate fingerprint mismatch: expected " + wrong + " got " + cert.fingerprint);
}

TEST_CASE("tls transport: a TLS 1.2-only master with ECDHE and AES-GCM works", "[transport]") {
  const Certificate cert = make_certificate();
  const Outcome o = connect_to_server(cert, cert.fingerprint, "ECDHE-ECDSA-AES128-GCM-SHA256");
  INFO(o.error);
  CHECK(o.received == "hello over tls");
}

TEST_CASE("tls transport: a TLS 1.2 master without an AEAD cipher is refused", "[transport]") {
  const Certificate cert = make_certificate();
  const Outcome o = connect_to_server(cert, cert.fingerprint, "ECDHE-ECDSA-AES128-SHA");  // CBC
  CHECK(o.received.empty());
  CHECK_FALSE(o.mismatch);
  CHECK_FALSE(o.error.empty());
}

TEST_CASE("tls transport: host and port are split with IPv6 literals too", "[transport]") {
  std::string host, port;
  REQUIRE(split_host_port("master.example:4433", host, port));
  CHECK(host == "master.example");
  CHECK(port == "4433");
  REQUIRE(split_host_port("[::1]:9000", host, port));
  CHECK(host == "::1");
  CHECK(port == "9000");
  CHECK_FALSE(split_host_port("no-port", host, port));
  CHECK_FALSE(split_host_port("host:", host, port));
  CHECK_FALSE(split_host_port("host:http", host, port));
  CHECK_FALSE(split_host_port("[::1]9000", host, port));
}

namespace {

// A TLS server for one connection, run by `serve` on the same io_context as the client.
struct TlsServer {
  asio::io_context& io;
  ssl::context ctx{ssl::context::tls_server};
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};

  TlsServer(asio::io_context& context, const Certificate& cert) : io(context) {
    REQUIRE(SSL_CTX_use_certificate(ctx.native_handle(), cert.cert.get()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(ctx.native_handle(), cert.key.get()) == 1);
  }
  TransportOptions options(const Certificate& cert) {
    TransportOptions o;
    o.address = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    o.fingerprint = cert.fingerprint;
    o.timeout = 10s;
    return o;
  }
};

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& ch : s) {
    x = x * 1103515245u + 12345u;
    ch = static_cast<char>(x >> 24);
  }
  return s;
}

}  // namespace

// Writes that outrun a slow reader wait for the socket (the write buffer's flush too), and a
// read takes whatever records have arrived: 8 MiB each way arrive byte-exact.
TEST_CASE("tls transport: 8 MiB each way, under back-pressure, arrive byte-exact", "[transport]") {
  const Certificate cert = make_certificate();
  asio::io_context io;
  TlsServer server(io, cert);
  const std::string up = pattern(8u << 20, 1), down = pattern(8u << 20, 2);
  std::string server_got, client_got, error;
  auto ignore = [](std::exception_ptr) {};

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    ssl::stream<tcp::socket> stream(co_await server.acceptor.async_accept(asio::use_awaitable), server.ctx);
    co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await asio::async_write(stream, asio::buffer(down), asio::use_awaitable);
    }, ignore);
    asio::steady_timer pause(io);
    char buf[16384];
    while (server_got.size() < up.size()) {  // slowly: the client's writes and flushes must wait
      pause.expires_after(1ms);
      co_await pause.async_wait(asio::use_awaitable);
      server_got.append(buf, co_await stream.async_read_some(asio::buffer(buf), asio::use_awaitable));
    }
  }, ignore);

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    try {
      auto transport = co_await connect_transport(io.get_executor(), server.options(cert));
      asio::co_spawn(io, [&, t = transport.get()]() -> asio::awaitable<void> {
        // Pieces that end mid-batch: each write's last records wait in the buffer for a flush.
        for (std::size_t at = 0; at < up.size(); at += 100000) {
          co_await t->write(asio::buffer(up.data() + at, std::min<std::size_t>(100000, up.size() - at)));
        }
      }, ignore);
      std::string buf(100000, '\0');
      while (client_got.size() < down.size()) {
        client_got.append(buf.data(), co_await transport->read_some(asio::buffer(buf)));
      }
      asio::steady_timer settle(io);
      while (server_got.size() < up.size()) {
        settle.expires_after(5ms);
        co_await settle.async_wait(asio::use_awaitable);
      }
      transport->close();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }, ignore);
  io.run_for(30s);
  INFO(error);
  CHECK(client_got.size() == down.size());
  CHECK(client_got == down);
  CHECK(server_got.size() == up.size());
  CHECK(server_got == up);
}

TEST_CASE("tls transport: the master's close ends a read with an error; close() ends one too", "[transport]") {
  const Certificate cert = make_certificate();
  for (const bool master_closes : {true, false}) {
    asio::io_context io;
    TlsServer server(io, cert);
    std::optional<tcp::socket> kept;
    std::string error;
    auto ignore = [](std::exception_ptr) {};
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      ssl::stream<tcp::socket> stream(co_await server.acceptor.async_accept(asio::use_awaitable), server.ctx);
      co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
      if (master_closes) {
        stream.next_layer().close();
      } else {
        kept.emplace(std::move(stream.next_layer()));  // open and silent
      }
    }, ignore);
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      auto transport = co_await connect_transport(io.get_executor(), server.options(cert));
      if (!master_closes) {
        asio::co_spawn(io, [&, t = transport.get()]() -> asio::awaitable<void> {
          asio::steady_timer later(io, 100ms);
          co_await later.async_wait(asio::use_awaitable);
          t->close();
        }, ignore);
      }
      try {
        char buf[64];
        co_await transport->read_some(asio::buffer(buf));
        error = "(read returned)";
      } catch (const boost::system::system_error& e) {
        error = e.what();
      }
    }, ignore);
    io.run_for(10s);
    INFO("master closes: " << master_closes << ", error: " << error);
    CHECK_FALSE(error.empty());
    CHECK(error != "(read returned)");
  }
}

TEST_CASE("tls transport: a master that never answers the handshake times out", "[transport]") {
  const Certificate cert = make_certificate();
  asio::io_context io;
  TlsServer server(io, cert);
  std::optional<tcp::socket> silent;
  std::string error;
  auto ignore = [](std::exception_ptr) {};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    silent.emplace(co_await server.acceptor.async_accept(asio::use_awaitable));
  }, ignore);
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    TransportOptions options = server.options(cert);
    options.timeout = 1s;
    try {
      co_await connect_transport(io.get_executor(), options);
      error = "(connected)";
    } catch (const std::exception& e) {
      error = e.what();
    }
    io.stop();
  }, ignore);
  io.run_for(10s);
  INFO(error);
  CHECK(error.find("TLS handshake") != std::string::npos);
  CHECK(error.find("timed out") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}
