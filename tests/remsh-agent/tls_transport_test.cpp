// The POSIX TLS transport against an in-process TLS server with a fresh self-signed
// certificate: the pinned fingerprint is accepted, any other is refused, and a TLS 1.2-only
// server (what Wine's SChannel offers) with an ECDHE + AEAD suite works.
#include "platform/transport.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>

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
