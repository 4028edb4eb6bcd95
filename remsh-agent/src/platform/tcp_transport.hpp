// What both platforms' transports (posix/openssl_transport.cpp, windows/schannel_transport.cpp)
// share: the plain TCP side of a connection to the master, in portable Asio.
#pragma once

#include <boost/asio/ip/tcp.hpp>

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

}  // namespace remsh::agent
