#include "api_client.hpp"

#include "cli_error.hpp"
#include "json_access.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <deque>
#include <utility>

#ifndef REMSH_VERSION
#define REMSH_VERSION "0"
#endif

namespace remsh::cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
namespace json = boost::json;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;
using error_code = boost::system::error_code;

namespace {

constexpr auto connect_timeout = std::chrono::seconds(15);
constexpr auto request_timeout = std::chrono::seconds(120);
constexpr std::size_t max_body_bytes = std::size_t{64} << 20;
constexpr std::size_t max_message_bytes = std::size_t{64} << 20;
constexpr const char* user_agent = "remsh/" REMSH_VERSION;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string authorization(const ConnectionSettings& s) { return "Bearer " + s.token; }

// The error of a non-2xx answer: the master's {"error":{"tag","message"}} when there is one.
CliError error_from_response(unsigned status, const std::string& body, const ConnectionSettings& s) {
    std::string tag;
    std::string message;
    error_code ec;
    const json::value v = json::parse(body, ec);
    if (!ec) {
        if (const json::value* err = member(v, "error"); err != nullptr) {
            tag = get_string(*err, "tag");
            message = get_string(*err, "message");
        }
    }
    if (message.empty()) {
        message = "HTTP " + std::to_string(status);
        if (ec && !body.empty()) {
            std::string text = body.substr(0, 200);
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
                text.pop_back();
            }
            message += ": " + text;
        }
    }
    if (status == 401) {
        std::string text = message + " (" + describe_token_source(s.token_source) + ")";
        if (s.token_source.kind == TokenSource::Kind::none) {
            text += "; give one with --token-file FILE, or set REMSH_TOKEN_FILE or REMSH_TOKEN";
        }
        return CliError("unauthorized", text);
    }
    if (tag.empty()) {
        tag = "http-" + std::to_string(status);
    }
    return CliError(tag, message);
}

// The master's endpoints. An address needs no lookup: asio resolves on a thread of its own,
// and creating and joining that thread is a measurable part of a CLI that starts once per
// command (the usual master URL is http://127.0.0.1:PORT).
awaitable<tcp::resolver::results_type> resolve_master(const ConnectionSettings& s) {
    const auto port = static_cast<unsigned short>(std::stoul(s.url.port));  // validated when parsed
    error_code ec;
    const net::ip::address address = net::ip::make_address(s.url.host, ec);
    if (!ec) {
        co_return tcp::resolver::results_type::create(tcp::endpoint(address, port), s.url.host,
                                                     s.url.port);
    }
    tcp::resolver resolver(co_await net::this_coro::executor);
    auto endpoints =
        co_await resolver.async_resolve(s.url.host, s.url.port, net::redirect_error(use_awaitable, ec));
    if (ec) {
        throw CliError("master-unreachable",
                       "cannot resolve " + s.url.host + " (" + s.url.text + "): " + ec.message());
    }
    co_return endpoints;
}

awaitable<beast::tcp_stream> connect_tcp(const ConnectionSettings& s) {
    auto executor = co_await net::this_coro::executor;
    const auto endpoints = co_await resolve_master(s);
    error_code ec;
    beast::tcp_stream stream(executor);
    stream.expires_after(connect_timeout);
    co_await stream.async_connect(endpoints, net::redirect_error(use_awaitable, ec));
    if (ec) {
        throw CliError("master-unreachable", "cannot connect to " + s.url.text + ": " + ec.message());
    }
    stream.expires_never();
    stream.socket().set_option(tcp::no_delay(true), ec);
    co_return stream;
}

std::shared_ptr<ssl::context> make_tls_context(const ConnectionSettings& s) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (s.insecure || !s.fingerprint.empty()) {
        // --insecure: no check at all; a pinned fingerprint: checked after the handshake.
        ctx->set_verify_mode(ssl::verify_none);
    } else {
        ctx->set_default_verify_paths();
        ctx->set_verify_mode(ssl::verify_peer);
    }
    return ctx;
}

std::string peer_fingerprint(SSL* ssl_handle) {
    X509* cert = SSL_get1_peer_certificate(ssl_handle);
    if (cert == nullptr) {
        return {};
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const int ok = X509_digest(cert, EVP_sha256(), md, &n);
    X509_free(cert);
    if (ok != 1) {
        return {};
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < n; ++i) {
        hex += digits[md[i] >> 4];
        hex += digits[md[i] & 0xF];
    }
    return hex;
}

awaitable<void> tls_handshake(TlsStream& stream, const ConnectionSettings& s) {
    const bool verify_chain = !s.insecure && s.fingerprint.empty();
    if (!s.url.host_is_ip()) {
        SSL_set_tlsext_host_name(stream.native_handle(), s.url.host.c_str());
    }
    if (verify_chain) {
        stream.set_verify_callback(ssl::host_name_verification(s.url.host));
    }
    beast::get_lowest_layer(stream).expires_after(connect_timeout);
    error_code ec;
    co_await stream.async_handshake(ssl::stream_base::client, net::redirect_error(use_awaitable, ec));
    if (ec) {
        std::string message = "TLS handshake with " + s.url.text + " failed: " + ec.message();
        if (verify_chain) {
            message += " (pin the master's certificate with --master-fingerprint HEX or "
                       "REMSH_MASTER_FINGERPRINT, or skip the check with --insecure)";
        }
        throw CliError("tls-error", message);
    }
    beast::get_lowest_layer(stream).expires_never();
    if (!s.insecure && !s.fingerprint.empty()) {
        const std::string got = peer_fingerprint(stream.native_handle());
        if (got != s.fingerprint) {
            throw CliError("tls-fingerprint-mismatch",
                           "the certificate of " + s.url.text + " has SHA-256 fingerprint " +
                               (got.empty() ? std::string("(none)") : got) + ", expected " +
                               s.fingerprint);
        }
    }
}

template <class Stream>
awaitable<http::response<http::string_body>> exchange(Stream& stream,
                                                      http::request<http::string_body>& req,
                                                      const ConnectionSettings& s) {
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(request_timeout);
    co_await http::async_write(stream, req, net::redirect_error(use_awaitable, ec));
    if (ec) {
        throw CliError("master-unreachable",
                       "lost the connection to " + s.url.text + ": " + ec.message());
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body_bytes);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
    if (ec) {
        throw CliError("master-unreachable",
                       "lost the connection to " + s.url.text + ": " + ec.message());
    }
    co_return parser.release();
}

// A GET whose body goes to `sink` piece by piece as it arrives (an artifact may be larger than
// memory); an error status's body is read whole, as any API error.
template <class Stream>
awaitable<void> stream_body(Stream& stream, http::request<http::string_body>& req, const ConnectionSettings& s,
                            const std::function<void(std::string_view)>& sink) {
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(request_timeout);
    co_await http::async_write(stream, req, net::redirect_error(use_awaitable, ec));
    if (ec) {
        throw CliError("master-unreachable", "lost the connection to " + s.url.text + ": " + ec.message());
    }
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    co_await http::async_read_header(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
    if (ec) {
        throw CliError("master-unreachable", "lost the connection to " + s.url.text + ": " + ec.message());
    }
    const unsigned status = parser.get().result_int();
    std::string error_text;
    std::vector<char> piece(256 * 1024);
    while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        beast::get_lowest_layer(stream).expires_after(request_timeout);
        co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
        if (ec && ec != http::error::need_buffer) {
            throw CliError("master-unreachable", "lost the connection to " + s.url.text + ": " + ec.message());
        }
        const std::string_view got(piece.data(), piece.size() - parser.get().body().size);
        if (status >= 200 && status < 300) {
            sink(got);
        } else if (error_text.size() < max_body_bytes) {
            error_text.append(got);
        }
    }
    if (status < 200 || status >= 300) {
        throw error_from_response(status, error_text, s);
    }
}

template <class NextLayer>
class WebSocketImpl final : public WebSocket {
public:
    template <class... Args>
    WebSocketImpl(std::shared_ptr<ssl::context> ctx, std::string url_text, Args&&... args)
        : ctx_(std::move(ctx)), url_text_(std::move(url_text)), ws_(std::forward<Args>(args)...) {}

    websocket::stream<NextLayer>& stream() { return ws_; }

    net::any_io_executor executor() override { return ws_.get_executor(); }

    awaitable<std::optional<WsMessage>> read() override {
        read_buffer_.clear();  // kept between reads: no allocation per message
        error_code ec;
        co_await ws_.async_read(read_buffer_, net::redirect_error(use_awaitable, ec));
        if (ec == websocket::error::closed) {
            co_return std::nullopt;
        }
        if (ec) {
            throw CliError("connection-lost",
                           "lost the connection to " + url_text_ + ": " + ec.message());
        }
        WsMessage m;
        m.binary = ws_.got_binary();
        m.data = beast::buffers_to_string(read_buffer_.data());
        co_return m;
    }

    void abort() override { beast::get_lowest_layer(ws_).close(); }

    // The first sender writes the queue out; later senders wait for their message to be done.
    awaitable<void> send(bool binary, std::string data) override {
        auto item = std::make_shared<Outgoing>(binary, std::move(data), ws_.get_executor());
        queue_.push_back(item);
        if (!writing_) {
            writing_ = true;
            while (!queue_.empty()) {
                const std::shared_ptr<Outgoing> next = queue_.front();
                queue_.pop_front();
                error_code ec = broken_;
                if (!ec) {
                    ws_.binary(next->binary);
                    co_await ws_.async_write(net::buffer(next->data),
                                             net::redirect_error(use_awaitable, ec));
                    if (ec) {
                        broken_ = ec;
                    }
                }
                next->ec = ec;
                next->finished = true;
                next->done.cancel();
            }
            writing_ = false;
        } else {
            while (!item->finished) {
                error_code ignored;
                co_await item->done.async_wait(net::redirect_error(use_awaitable, ignored));
            }
        }
        if (item->ec) {
            throw CliError("connection-lost",
                           "lost the connection to " + url_text_ + ": " + item->ec.message());
        }
    }

private:
    struct Outgoing {
        Outgoing(bool is_binary, std::string bytes, const net::any_io_executor& executor)
            : binary(is_binary), data(std::move(bytes)),
              done(executor, net::steady_timer::time_point::max()) {}
        bool binary;
        std::string data;
        net::steady_timer done;
        error_code ec;
        bool finished = false;
    };

    std::shared_ptr<ssl::context> ctx_;  // outlives ws_ (declared first)
    std::string url_text_;
    websocket::stream<NextLayer> ws_;
    beast::flat_buffer read_buffer_;
    std::deque<std::shared_ptr<Outgoing>> queue_;
    bool writing_ = false;
    error_code broken_;
};

template <class WsStream>
awaitable<void> ws_handshake(WsStream& ws, const ConnectionSettings& s, const std::string& target) {
    beast::get_lowest_layer(ws).expires_never();  // the WebSocket keeps its own timeouts
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    const std::string auth = s.token.empty() ? std::string() : authorization(s);
    ws.set_option(websocket::stream_base::decorator([auth](websocket::request_type& req) {
        req.set(http::field::user_agent, user_agent);
        if (!auth.empty()) {
            req.set(http::field::authorization, auth);
        }
    }));
    ws.read_message_max(max_message_bytes);
    ws.auto_fragment(false);  // one message, one frame
    // A client masks what it sends through this buffer: the default 4 KiB would mean one
    // system call per 4 KiB of uploaded bytes.
    ws.write_buffer_bytes(256 * 1024);
    websocket::response_type res;
    error_code ec;
    co_await ws.async_handshake(res, s.url.host_header(), s.url.base_path + target,
                                net::redirect_error(use_awaitable, ec));
    if (ec == websocket::error::upgrade_declined) {
        throw error_from_response(res.result_int(), res.body(), s);
    }
    if (ec) {
        throw CliError("master-unreachable",
                       "WebSocket handshake with " + s.url.text + " failed: " + ec.message());
    }
}

}  // namespace

struct ApiClient::Impl {
    std::shared_ptr<ssl::context> tls;

    const std::shared_ptr<ssl::context>& tls_context(const ConnectionSettings& s) {
        if (!tls) {
            tls = make_tls_context(s);
        }
        return tls;
    }
};

ApiClient::ApiClient(ConnectionSettings settings)
    : settings_(std::move(settings)), impl_(std::make_unique<Impl>()) {}

ApiClient::~ApiClient() = default;

awaitable<json::value> ApiClient::get(std::string target) {
    co_return co_await request("GET", std::move(target), std::nullopt);
}

awaitable<json::value> ApiClient::del(std::string target) {
    co_return co_await request("DELETE", std::move(target), std::nullopt);
}

awaitable<json::value> ApiClient::post(std::string target, json::value body) {
    co_return co_await request("POST", std::move(target), std::move(body));
}

awaitable<std::string> ApiClient::request_text(std::string method, std::string target,
                                               std::optional<json::value> body) {
    http::request<http::string_body> req{http::string_to_verb(method),
                                         settings_.url.base_path + target, 11};
    req.set(http::field::host, settings_.url.host_header());
    req.set(http::field::user_agent, user_agent);
    req.set(http::field::accept, "application/json");
    if (!settings_.token.empty()) {
        req.set(http::field::authorization, authorization(settings_));
    }
    if (body) {
        req.set(http::field::content_type, "application/json");
        req.body() = json::serialize(*body);
    }
    req.keep_alive(false);
    req.prepare_payload();

    beast::tcp_stream tcp_stream = co_await connect_tcp(settings_);
    http::response<http::string_body> res;
    if (settings_.url.tls) {
        TlsStream stream(std::move(tcp_stream), *impl_->tls_context(settings_));
        co_await tls_handshake(stream, settings_);
        res = co_await exchange(stream, req, settings_);
    } else {
        res = co_await exchange(tcp_stream, req, settings_);
    }

    const unsigned status = res.result_int();
    if (status < 200 || status >= 300) {
        throw error_from_response(status, res.body(), settings_);
    }
    co_return std::move(res.body());
}

awaitable<void> ApiClient::download(std::string target, std::function<void(std::string_view)> sink) {
    http::request<http::string_body> req{http::verb::get, settings_.url.base_path + target, 11};
    req.set(http::field::host, settings_.url.host_header());
    req.set(http::field::user_agent, user_agent);
    if (!settings_.token.empty()) {
        req.set(http::field::authorization, authorization(settings_));
    }
    req.keep_alive(false);
    req.prepare_payload();
    beast::tcp_stream tcp_stream = co_await connect_tcp(settings_);
    if (settings_.url.tls) {
        TlsStream stream(std::move(tcp_stream), *impl_->tls_context(settings_));
        co_await tls_handshake(stream, settings_);
        co_await stream_body(stream, req, settings_, sink);
    } else {
        co_await stream_body(tcp_stream, req, settings_, sink);
    }
}

awaitable<std::string> ApiClient::get_text(std::string target) {
    co_return co_await request_text("GET", std::move(target), std::nullopt);
}

awaitable<json::value> ApiClient::request(std::string method, std::string target,
                                          std::optional<json::value> body) {
    const std::string text = co_await request_text(method, target, std::move(body));
    if (text.empty()) {
        co_return json::value(nullptr);
    }
    error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) {
        throw CliError("bad-response", "the master's answer to " + method + " " +
                                           target + " is not JSON: " + ec.message());
    }
    co_return v;
}

awaitable<std::unique_ptr<WebSocket>> ApiClient::websocket(std::string target) {
    beast::tcp_stream tcp_stream = co_await connect_tcp(settings_);
    if (settings_.url.tls) {
        const std::shared_ptr<ssl::context>& ctx = impl_->tls_context(settings_);
        auto ws = std::make_unique<WebSocketImpl<TlsStream>>(ctx, settings_.url.text,
                                                            std::move(tcp_stream), *ctx);
        co_await tls_handshake(ws->stream().next_layer(), settings_);
        co_await ws_handshake(ws->stream(), settings_, target);
        co_return std::unique_ptr<WebSocket>(std::move(ws));
    }
    auto ws = std::make_unique<WebSocketImpl<PlainStream>>(nullptr, settings_.url.text,
                                                          std::move(tcp_stream));
    co_await ws_handshake(ws->stream(), settings_, target);
    co_return std::unique_ptr<WebSocket>(std::move(ws));
}

}  // namespace remsh::cli
