// The client side of the master's API (docs/api.md): JSON over HTTP(S) with a bearer token, and
// the WebSocket streams. Beast and OpenSSL stay inside api_client.cpp.
//
// Every failure is a CliError:
//   master-unreachable  name resolution or TCP connect failed, or the connection broke
//   tls-error           TLS handshake or certificate verification failed
//   tls-fingerprint-mismatch  the master's certificate is not the pinned one
//   unauthorized        HTTP 401 (the message says where the token came from)
//   <the master's tag>  any other HTTP error with the master's JSON error body
//   http-<status>       an HTTP error without one
//   bad-response        the master's answer is not JSON
//   connection-lost     a WebSocket broke
#pragma once

#include "master_url.hpp"
#include "token_source.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace remsh::cli {

struct ConnectionSettings {
    MasterUrl url;
    std::string token;         // empty: no Authorization header
    TokenSource token_source;  // for the 401 message
    bool insecure = false;     // https: accept any certificate
    std::string fingerprint;   // https: 64 lowercase hex digits of the pinned certificate's SHA-256
};

struct WsMessage {
    bool binary = false;
    std::string data;
};

// One WebSocket to the master. One read at a time; sends may overlap (they are queued).
class WebSocket {
public:
    virtual ~WebSocket() = default;
    virtual boost::asio::any_io_executor executor() = 0;
    // The next message; nullopt once the master closed the WebSocket.
    virtual boost::asio::awaitable<std::optional<WsMessage>> read() = 0;
    // Sends one message; completes once it is written (messages go out in call order).
    virtual boost::asio::awaitable<void> send(bool binary, std::string data) = 0;
    // Drops the connection at once: a pending read() fails (the master then abandons what
    // the WebSocket was doing).
    virtual void abort() = 0;
};

class ApiClient {
public:
    explicit ApiClient(ConnectionSettings settings);
    ~ApiClient();
    ApiClient(const ApiClient&) = delete;
    ApiClient& operator=(const ApiClient&) = delete;

    // `target` is the API path with its query ("/api/v1/agents"); the answer's JSON body.
    boost::asio::awaitable<boost::json::value> get(std::string target);
    boost::asio::awaitable<boost::json::value> post(std::string target, boost::json::value body);
    boost::asio::awaitable<boost::json::value> del(std::string target);
    // The answer's body as it is (not JSON: a shell recording).
    boost::asio::awaitable<std::string> get_text(std::string target);
    // A GET whose body is passed to `sink` piece by piece as it arrives (not held whole).
    boost::asio::awaitable<void> download(std::string target, std::function<void(std::string_view)> sink);
    // A WebSocket upgrade of GET `target`.
    boost::asio::awaitable<std::unique_ptr<WebSocket>> websocket(std::string target);

    const ConnectionSettings& settings() const { return settings_; }

private:
    struct Impl;
    boost::asio::awaitable<std::string> request_text(std::string method, std::string target,
                                                     std::optional<boost::json::value> body);
    boost::asio::awaitable<boost::json::value> request(std::string method, std::string target,
                                                       std::optional<boost::json::value> body);

    ConnectionSettings settings_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace remsh::cli
