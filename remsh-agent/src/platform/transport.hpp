// Transport: the byte pipe between the agent and its master (docs/protocol.md 2). The
// portable core sees only this interface; POSIX implements it with OpenSSL
// (posix/openssl_transport.cpp), Windows with SChannel.
//
// TLS is the default. The agent trusts no CA: after the TLS handshake the implementation
// compares the SHA-256 of the master's DER leaf certificate with the fingerprint from the
// enrolment token itself, on every platform, and refuses the connection on a mismatch.
// Plaintext exists only for loopback tests and is chosen explicitly by the caller.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace remsh::agent {

class Transport {
 public:
  virtual ~Transport() = default;

  // Reads what is available (at least one byte). Throws boost::system::system_error on
  // errors and at end of stream (boost::asio::error::eof).
  virtual boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buf) = 0;
  // Writes all of data; throws boost::system::system_error on errors.
  virtual boost::asio::awaitable<void> write(boost::asio::const_buffer data) = 0;
  // Closes the connection at once; pending reads and writes complete with an error.
  // Idempotent, never throws.
  virtual void close() = 0;

  // "203.0.113.7:4433", for logs.
  virtual std::string peer() const = 0;
};

struct TransportOptions {
  std::string address;      // "host:port" (IPv6 literals as "[::1]:4433")
  bool plaintext = false;   // no TLS at all: loopback tests only, the caller checked the flag
  std::string fingerprint;  // TLS: expected SHA-256 of the master's DER certificate, hex
  std::chrono::seconds timeout{15};  // for resolving, connecting and the TLS handshake
};

// The master presented another certificate than the pinned one.
class FingerprintMismatch : public std::runtime_error {
 public:
  FingerprintMismatch(std::string expected, std::string got)
      : std::runtime_error("master certificate fingerprint mismatch: expected " + expected +
                           " got " + got),
        expected_(std::move(expected)),
        got_(std::move(got)) {}
  const std::string& expected() const { return expected_; }
  const std::string& got() const { return got_; }

 private:
  std::string expected_;
  std::string got_;
};

// Connects (and with TLS: handshakes and checks the fingerprint). Throws
// FingerprintMismatch, or std::runtime_error / boost::system::system_error with a message
// fit for a log line ("connecting to host:port: Connection refused").
boost::asio::awaitable<std::unique_ptr<Transport>> connect_transport(
    boost::asio::any_io_executor executor, TransportOptions options);

// Splits "host:port" / "[v6]:port"; false when malformed.
bool split_host_port(const std::string& address, std::string& host, std::string& port);

}  // namespace remsh::agent
