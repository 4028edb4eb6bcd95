// What both platforms' transports (posix/openssl_transport.cpp, windows/schannel_transport.cpp)
// share: the plain TCP side of a connection to the master, in portable Asio, and
// connect_transport itself (tcp_transport.cpp: resolve, connect, TLS, the fingerprint check,
// all within one deadline). Each platform supplies the two functions at the end.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>

#include "platform/transport.hpp"

namespace remsh::agent {

// "203.0.113.7:4433" / "[::1]:4433", or "?" when the socket has no peer.
std::string endpoint_text(const boost::asio::ip::tcp::socket& socket);
// Shuts down and closes, ignoring errors (close() must never throw).
void close_socket(boost::asio::ip::tcp::socket& socket);
// The transport without TLS (loopback tests only; the caller checked the flag).
std::unique_ptr<Transport> make_plain_transport(boost::asio::ip::tcp::socket socket);

// ---- per platform ----

// Keeps the master connection from every process the agent starts (POSIX: close-on-exec;
// Windows: not inheritable): a child must not hold it open after the agent dies, nor write
// into it. Throws std::runtime_error when it cannot.
void keep_from_children(boost::asio::ip::tcp::socket& socket);

// The platform's TLS client over a connected socket, handshaken before `deadline` (throws
// "<step>: timed out" past it, or system_error), with the SHA-256 of the master's DER leaf
// certificate as lowercase hex (empty when it sent none). connect_transport compares it.
struct TlsClient {
  std::unique_ptr<Transport> transport;
  std::string fingerprint;
};
boost::asio::awaitable<TlsClient> start_tls(boost::asio::ip::tcp::socket socket, boost::asio::steady_timer& deadline,
                                            const std::string& step);

}  // namespace remsh::agent
