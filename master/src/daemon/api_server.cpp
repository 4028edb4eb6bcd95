#include "daemon/api_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <fstream>
#include <sstream>
#include <iostream>

#include "daemon/admin_routes.hpp"
#include "daemon/agent_availability.hpp"
#include "daemon/api_roles.hpp"
#include "daemon/fs_relay.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/job_routes.hpp"
#include "daemon/repo_routes.hpp"
#include "daemon/secret_routes.hpp"
#include "daemon/shell_recorder.hpp"
#include "remsh/protocol/enrollment_token.hpp"
#include "remsh/protocol/fs_request.hpp"
#include "remsh/protocol/json_fields.hpp"
#include "remsh/protocol/stream_codec.hpp"
#include "remsh/protocol/utf8.hpp"

namespace remsh::master {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
namespace ssl = asio::ssl;
using asio::ip::tcp;

namespace {

json::object error_body(const std::string& tag, const std::string& message) {
  return {{"error", json::object{{"tag", tag}, {"message", message}}}};
}

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string path_of(std::string_view target) { return std::string(target.substr(0, target.find('?'))); }

bool is_loopback(const std::string& host) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

// ---- WebSocket output: one writer, a queue, completion callbacks for credit ----

template <typename Ws>
class WsOutput : public OutputWatcher, public std::enable_shared_from_this<WsOutput<Ws>> {
 public:
  WsOutput(Ws& ws, asio::any_io_executor ex) : ws_(ws), wake_(ex) {}

  void on_started(std::int64_t id) override {
    json::object o{{"type", "started"}};
    if (id > 0) o["id"] = id;  // commands have an id; file operations none
    text(json::serialize(o));
  }
  void on_output(OutputChunk chunk, std::function<void()> done) override {
    // Message header: the stream, then (for a client that decodes) the codec; the payload
    // goes out as a second buffer, without a copy.
    std::string header(1, static_cast<char>(chunk.stream));
    auto payload = std::move(chunk.bytes);
    if (!accepted_.empty()) {
      protocol::Codec codec = protocol::Codec::none;
      if (chunk.wire && std::find(accepted_.begin(), accepted_.end(), chunk.codec) != accepted_.end()) {
        codec = chunk.codec;
        payload = std::move(chunk.wire);
      }
      header.push_back(static_cast<char>(codec));
    }
    if (payload->empty()) {
      if (done) done();
      return;
    }
    queue_.push_back({true, std::move(header), std::move(done), std::move(payload)});
    wake_.notify();
  }
  // The codecs the client decodes itself (its request's "codecs"): from then on every
  // output message carries a codec byte after the stream byte (docs/api.md).
  void accept_codecs(std::vector<protocol::Codec> codecs) { accepted_ = std::move(codecs); }
  void on_finished(const json::object& record) override {
    json::object o = record;
    o["type"] = "result";
    text(json::serialize(o));
    finished_ = true;
    wake_.notify();
  }
  void on_error(const std::string& tag, const std::string& message) override {
    text(json::serialize(json::object{{"type", "error"}, {"tag", tag}, {"message", protocol::to_utf8_lossy(message)}}));
    finished_ = true;
    wake_.notify();
  }
  void text(std::string s) {
    queue_.push_back({false, std::move(s), {}, {}});
    wake_.notify();
  }
  void binary(std::string s, std::function<void()> done = {}) {
    queue_.push_back({true, std::move(s), std::move(done), {}});
    wake_.notify();
  }
  bool idle() const { return queue_.empty(); }

  // Writes queued messages until finished and drained (or the client is gone).
  asio::awaitable<void> write_loop() {
    auto self = this->shared_from_this();
    for (;;) {
      if (queue_.empty()) {
        if (finished_ || broken_) break;
        co_await wake_.wait();
        continue;
      }
      Item item = std::move(queue_.front());
      queue_.pop_front();
      if (!broken_) {
        ws_.binary(item.binary);
        std::array<asio::const_buffer, 2> buffers{asio::buffer(item.data), asio::const_buffer()};
        if (item.payload) buffers[1] = asio::buffer(*item.payload);
        auto [ec, n] = co_await ws_.async_write(buffers, asio::as_tuple(asio::use_awaitable));
        if (ec) broken_ = true;
      }
      if (item.done) item.done();  // credit flows even when the client went away
    }
    // Release any credit still held, then close politely.
    while (!queue_.empty()) {
      if (queue_.front().done) queue_.front().done();
      queue_.pop_front();
    }
    if (!broken_) {
      co_await ws_.async_close(websocket::close_code::normal, asio::as_tuple(asio::use_awaitable));
    }
  }
  bool finished() const { return finished_; }
  void set_broken() {
    broken_ = true;
    wake_.notify();
  }

 private:
  struct Item {
    bool binary;
    std::string data;
    std::function<void()> done;
    std::shared_ptr<const std::vector<std::uint8_t>> payload;  // sent after data, if any
  };
  Ws& ws_;
  Notifier wake_;
  std::deque<Item> queue_;
  std::vector<protocol::Codec> accepted_;
  bool finished_ = false;
  bool broken_ = false;
};

}  // namespace

ApiServer::ApiServer(asio::io_context& io, StateDir& state, AgentHub& hub, std::string host,
                     std::uint16_t port)
    : io_(io), state_(state), hub_(hub), host_(std::move(host)), port_(port),
      tls_(ssl::context::tls_server) {
  tls_enabled_ = !is_loopback(host_);
  if (tls_enabled_) {
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    tls_.use_certificate_chain_file(state_.cert_file().string());
    tls_.use_private_key_file(state_.key_file().string(), ssl::context::pem);
  }
}

void ApiServer::listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host_, ec);
  if (ec) throw std::runtime_error("bad --api-listen address " + host_);
  tcp::endpoint endpoint(address, port_);
  acceptor_.emplace(io_);
  acceptor_->open(endpoint.protocol());
  acceptor_->set_option(tcp::acceptor::reuse_address(true));
  acceptor_->bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen for the API on " + host_ + ":" +
                             std::to_string(port_) + ": " + ec.message());
  }
  acceptor_->listen();
  bound_port_ = acceptor_->local_endpoint().port();
}

void ApiServer::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  if (acceptor_) acceptor_->close(ec);
}

asio::awaitable<void> ApiServer::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    if (tls_enabled_) {
      asio::co_spawn(io_, session(beast::ssl_stream<beast::tcp_stream>(std::move(socket), tls_)),
                     asio::detached);
    } else {
      asio::co_spawn(io_, session(beast::tcp_stream(std::move(socket))), asio::detached);
    }
  }
}

namespace {

// ---- REST handlers ----

json::object commands_json(StateDir& state, std::size_t limit) {
  json::array list;
  for (const auto& c : state.storage().list_commands(limit)) list.push_back(command_json(c));
  return {{"commands", list}};
}

// A request's "codecs": the stream codecs the client decodes itself. Names it does not know
// are skipped (a newer client may list more); nullopt when the field is malformed.
std::optional<std::vector<protocol::Codec>> client_codecs(const json::object& request) {
  std::vector<protocol::Codec> codecs;
  const json::value* field = request.if_contains("codecs");
  if (!field) return codecs;
  if (!field->is_array()) return std::nullopt;
  for (const auto& name : field->get_array()) {
    if (!name.is_string()) return std::nullopt;
    auto codec = protocol::codec_from_name(std::string_view(name.get_string()));
    if (codec && *codec != protocol::Codec::none) codecs.push_back(*codec);
  }
  return codecs;
}

}  // namespace

// A received WebSocket message as bytes, without a copy.
static protocol::ByteView bytes_of(const beast::flat_buffer& message) {
  return {static_cast<const std::uint8_t*>(message.data().data()), message.size()};
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

template <typename Ws>
asio::awaitable<void> ApiServer::run_ws(Ws& ws, std::string caller) {
  using namespace asio::experimental::awaitable_operators;
  auto out = std::make_shared<WsOutput<Ws>>(ws, io_.get_executor());
  beast::flat_buffer buf;
  auto [ec, n] = co_await ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  boost::system::error_code pec;
  json::value v = json::parse(beast::buffers_to_string(buf.data()), pec);
  auto refuse = [&](const std::string& tag, const std::string& message) {
    out->on_error(tag, message);
  };
  std::shared_ptr<CommandRun> run;
  std::shared_ptr<ShellRecorder> recorder;  // a debug shell (interactive) is recorded
  // Wakes the client's reader when stdin that waited for the agent's credit has gone out.
  auto input_room = std::make_shared<Notifier>(io_.get_executor());
  if (pec || !v.is_object()) {
    refuse("bad-request", "the first message must be a JSON object (see docs/api.md)");
  } else {
    // The request uses the exec fields of the protocol's open message (docs/api.md).
    const json::object& o = v.get_object();
    auto parsed = protocol::ExecRequest::parse(o);
    const json::value* agent = o.if_contains("agent");
    auto codecs = client_codecs(o);
    if (!agent || !agent->is_string()) {
      refuse("bad-request", "\"agent\" (a string) is required");
    } else if (!codecs) {
      refuse("bad-request", "\"codecs\" must be an array of codec names");
    } else if (auto* e = std::get_if<protocol::ProtocolError>(&parsed)) {
      refuse("bad-request", e->message);
    } else {
      const std::string name(agent->get_string());
      auto request = std::get<protocol::ExecRequest>(parsed);
      auto found = online_agent(name);
      if (auto* refusal = std::get_if<std::pair<std::string, std::string>>(&found)) {
        refuse(refusal->first, refusal->second);
      } else {
        auto link = std::get<std::shared_ptr<AgentLink>>(found);
        json::value command = request.shell ? json::value(*request.shell) : json::value(json::array(request.argv.begin(), request.argv.end()));
        const std::int64_t id = state_.storage().create_command(name, json::serialize(command), request.cwd, now_ms());
        out->accept_codecs(*codecs);
        run = std::make_shared<CommandRun>(id, state_.storage(), link);
        run->on_input_room([input_room] { input_room->notify(); });
        run->set_pty(request.pty.has_value());
        remember(run);
        // The client first, the recorder after it: recording must not delay a keystroke's echo.
        run->watch(out);
        if (request.interactive) {
          ShellSessionRecord session;
          session.command_id = id;
          session.agent = name;
          session.opened_by = caller;
          session.cols = request.pty ? static_cast<int>(request.pty->cols) : 80;
          session.rows = request.pty ? static_cast<int>(request.pty->rows) : 24;
          session.started_ms = now_ms();
          session.recording = "recordings/" + std::to_string(id) + ".cast";
          try {
            recorder = std::make_shared<ShellRecorder>(io_.get_executor(), state_.storage(), state_.path() / session.recording, session,
                                                       request.pty ? request.pty->term : std::string("dumb"));
            run->watch_to_the_end(recorder);
          } catch (const std::exception& failure) {
            // Unrecorded shells are not allowed: say why and do not start it.
            std::cerr << "remsh-master: " << failure.what() << std::endl;
            const auto how = CommandFinish::failed(
                "internal", std::string("the master cannot record the shell: ") + failure.what(), now_ms());
            state_.storage().finish_command(id, how);
            refuse("internal", *how.error_message);
            run.reset();
          }
        }
        if (run) {
          if (auto started = link->start(request.to_json(), run); !started) {
            const auto how = CommandFinish::failed(started.tag, started.message, now_ms());
            state_.storage().finish_command(id, how);
            refuse(started.tag, started.message);
            if (recorder) recorder->on_error(started.tag, started.message);
            run.reset();
          }
        }
      }
    }
  }
  auto client = [&]() -> asio::awaitable<void> {
    beast::flat_buffer in;  // kept: no allocation (and regrowth) per message
    for (;;) {
      in.clear();
      auto [rec, rn] = co_await ws.async_read(in, asio::as_tuple(asio::use_awaitable));
      if (rec) break;
      if (!run) continue;
      const protocol::ByteView message = bytes_of(in);
      if (ws.got_binary()) {
        if (message.empty() || message[0] != 0) continue;
        if (message.size() == 1) {
          run->end_input();
        } else {
          run->send_input(message.subspan(1));
          if (recorder) recorder->input(message.subspan(1));  // after: the keystroke goes first
          // Read no more from the client than the agent accepts (end-to-end flow control).
          while (run->input_blocked() && !run->finished()) co_await input_room->wait();
        }
      } else {
        boost::system::error_code jec;
        json::value m = json::parse(beast::buffers_to_string(in.data()), jec);
        if (jec || !m.is_object()) continue;
        const json::object& mo = m.get_object();
        const json::value* type = mo.if_contains("type");
        if (!type || !type->is_string()) continue;
        if (type->get_string() == "signal" && mo.contains("signal") && mo.at("signal").is_string()) {
          auto parsed = protocol::Signal::parse(mo);
          if (auto* sig = std::get_if<protocol::Signal>(&parsed)) run->send_signal(sig->signal);
        } else if (type->get_string() == "resize") {
          auto parsed = protocol::Resize::parse(mo);
          if (auto* r = std::get_if<protocol::Resize>(&parsed)) {
            run->resize(r->cols, r->rows);
            if (recorder) recorder->resize(r->cols, r->rows);
          }
        }
      }
    }
    // The client went away (or we closed after the result): the command keeps running and
    // its output is still stored; it just gets no more input.
    if (run) {
      run->on_input_room({});
      run->end_input();
    }
    out->set_broken();
  };
  co_await (out->write_loop() && client());
}

template <typename Ws>
asio::awaitable<void> ApiServer::fs_ws(Ws& ws) {
  using namespace asio::experimental::awaitable_operators;
  auto out = std::make_shared<WsOutput<Ws>>(ws, io_.get_executor());
  beast::flat_buffer buf;
  auto [ec, n] = co_await ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  boost::system::error_code pec;
  json::value v = json::parse(beast::buffers_to_string(buf.data()), pec);
  std::shared_ptr<FsRelay> relay;
  // Wakes the client's reader when file bytes that waited for the agent's credit have gone out.
  auto input_room = std::make_shared<Notifier>(io_.get_executor());
  if (pec || !v.is_object()) {
    out->on_error("bad-request", "the first message must be a JSON object (see docs/api.md)");
  } else {
    // The request uses the fields of the protocol's fs open message (docs/api.md).
    const json::object& o = v.get_object();
    const json::value* agent = o.if_contains("agent");
    auto parsed = protocol::FsRequest::parse(o);
    if (!agent || !agent->is_string()) {
      out->on_error("bad-request", "\"agent\" (a string) is required");
    } else if (auto* e = std::get_if<protocol::ProtocolError>(&parsed)) {
      out->on_error(e->tag == protocol::ErrorTag::unsupported ? "unsupported" : "bad-request", e->message);
    } else {
      auto found = online_agent(std::string(agent->get_string()));
      if (auto* refusal = std::get_if<std::pair<std::string, std::string>>(&found)) {
        out->on_error(refusal->first, refusal->second);
      } else {
        auto link = std::get<std::shared_ptr<AgentLink>>(found);
        relay = std::make_shared<FsRelay>(link, out);
        relay->on_input_room([input_room] { input_room->notify(); });
        if (auto started = link->start(std::get<protocol::FsRequest>(parsed).to_json(), relay); !started) {
          out->on_error(started.tag, started.message);
          relay.reset();
        }
      }
    }
  }
  auto client = [&]() -> asio::awaitable<void> {
    beast::flat_buffer in;  // kept: no allocation (and regrowth) per message
    for (;;) {
      in.clear();
      auto [rec, rn] = co_await ws.async_read(in, asio::as_tuple(asio::use_awaitable));
      if (rec) break;
      if (!relay || !ws.got_binary()) continue;
      const protocol::ByteView message = bytes_of(in);
      if (message.empty() || message[0] != protocol::stream_id::file) continue;
      if (message.size() == 1) {
        relay->end_input();
      } else {
        relay->send_input(message.subspan(1));
        // Read no more from the client than the agent accepts (end-to-end flow control).
        while (relay->input_blocked() && !relay->finished()) co_await input_room->wait();
      }
    }
    // The client went away: if the operation is still going, it is abandoned.
    if (relay) {
      relay->on_input_room({});
      relay->cancel();
    }
    out->set_broken();
  };
  co_await (out->write_loop() && client());
}

std::optional<std::filesystem::path> ApiServer::artifact_file(const std::string& path) {
  // GET /api/v1/jobs/ID/artifacts/NAME
  const std::string prefix = "/api/v1/jobs/";
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  const std::string marker = "artifacts/";
  if (slash == std::string::npos || rest.compare(slash + 1, marker.size(), marker) != 0) return std::nullopt;
  const std::string name = rest.substr(slash + 1 + marker.size());
  if (name.empty()) return std::nullopt;  // the listing: a JSON route
  const auto id = parse_id(rest.substr(0, slash));
  const unsigned not_found = static_cast<unsigned>(http::status::not_found);
  if (!id || !state_.storage().get_job(*id)) throw ApiError{not_found, "not-found", "no job " + rest.substr(0, slash)};
  for (const ArtifactRecord& a : state_.storage().job_artifacts(*id)) {
    if (a.name == name) return state_.artifacts().path_of(*id, a.name);
  }
  throw ApiError{not_found, "not-found", "job " + std::to_string(*id) + " has no artifact " + name};
}

std::variant<std::shared_ptr<AgentLink>, std::pair<std::string, std::string>> ApiServer::online_agent(
    const std::string& name) {
  auto record = state_.storage().find_agent(name);
  if (!record) return std::pair<std::string, std::string>{"agent-unknown", "no agent named " + name + " (see remsh agents)"};
  auto link = hub_.find(name);
  if (auto refusal = work_refusal(*record, link)) return *refusal;
  // The owner's limit on concurrent commands (reported in its facts; the agent enforces it too).
  if (const auto max = read_agent_facts(*record).max_concurrent) {
    const auto running = static_cast<std::int64_t>(link->commands_running());
    if (running >= *max) {
      return std::pair<std::string, std::string>{
          "agent-busy", "agent " + name + " already runs " + std::to_string(running) + " command(s), its owner's limit"};
    }
  }
  return link;
}

template <typename Ws>
asio::awaitable<void> ApiServer::log_ws(Ws& ws, std::int64_t id, bool follow) {
  using namespace asio::experimental::awaitable_operators;
  auto out = std::make_shared<WsOutput<Ws>>(ws, io_.get_executor());
  auto producer = [&]() -> asio::awaitable<void> {
    auto record = state_.storage().get_command(id);
    if (!record) {
      out->on_error("not-found", "no command " + std::to_string(id));
      co_return;
    }
    std::map<std::uint8_t, protocol::StreamDecoder> decoders;
    std::int64_t last = -1;
    for (;;) {
      auto chunks = state_.storage().read_log_chunks(id, last, 64);
      bool unstored = false;
      if (chunks.empty() && record->state == "running") {
        // Logs are stored in batches (AgentLink): what came since the last one is in memory.
        if (auto link = hub_.find(record->agent)) {
          if (auto run = link->command_run(id)) {
            for (const LogChunk& c : run->unstored_log()) {
              if (c.index > last) chunks.push_back(c);
            }
            unstored = !chunks.empty();
          }
        }
      }
      for (auto& c : chunks) {
        last = c.index;
        protocol::ByteBuffer plain;
        std::uint8_t flags = c.codec;
        if (auto e = decoders[c.stream].decode(flags, protocol::ByteView{c.data}, plain, SIZE_MAX)) {
          out->on_error("log-damaged", "stored log of command " + std::to_string(id) + ": " + e->describe());
          co_return;
        }
        if (plain.empty()) continue;
        std::string msg(1, static_cast<char>(c.stream));
        msg.append(protocol::as_chars(plain.view()));
        out->binary(std::move(msg));
      }
      // Keep memory bounded: let the client take what was queued before reading more.
      while (!out->idle()) co_await sleep_for(std::chrono::milliseconds(2));
      if (!chunks.empty() && !unstored) continue;
      record = state_.storage().get_command(id);
      // Ended since the chunks above came from memory: the rest of its output is stored now,
      // after them. Read it before the result, or a follower misses the command's last lines.
      if (!record) {
        out->on_error("not-found", "command " + std::to_string(id) + " is gone");
        co_return;
      }
      if (unstored && record->state != "running") continue;
      if (!follow || record->state != "running") {
        out->on_finished(command_json(*record));
        co_return;
      }
      co_await sleep_for(std::chrono::milliseconds(100));
    }
  };
  auto client = [&]() -> asio::awaitable<void> {
    beast::flat_buffer in;
    co_await ws.async_read(in, asio::as_tuple(asio::use_awaitable));  // only close frames matter
    out->set_broken();
  };
  co_await (out->write_loop() && (producer() && client()));
}

namespace {

// For /api/v1/commands/ID/log, the ID (-1 when it is not a number, which no command has);
// nullopt for any other path.
std::optional<std::int64_t> command_log_id(const std::string& path) {
  if (path.rfind("/api/v1/commands/", 0) != 0 || path.size() <= 21 || path.substr(path.size() - 4) != "/log") {
    return std::nullopt;
  }
  return parse_id(path.substr(17, path.size() - 21)).value_or(-1);
}

// A request beyond the bounds gets an answer, not a reset: 413 (431), then what the client
// still sends is read and dropped for a moment, so that closing does not reset the
// connection before the client has read why.
template <typename Stream>
asio::awaitable<void> refuse_too_large(Stream& stream, bool body) {
  http::response<http::string_body> res{body ? http::status::payload_too_large
                                             : http::status::request_header_fields_too_large, 11};
  res.set(http::field::server, "remsh-master");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = json::serialize(error_body("limit-exceeded", body ? "a request body is at most 1 MiB"
                                                                  : "request headers are at most 16 KiB"));
  res.prepare_payload();
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  if (wec) co_return;
  beast::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
  std::vector<char> scratch(64 * 1024);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  for (std::size_t dropped = 0; dropped < (std::size_t{64} << 20);) {
    auto [rec, rn] = co_await beast::get_lowest_layer(stream).async_read_some(asio::buffer(scratch),
                                                                             asio::as_tuple(asio::use_awaitable));
    if (rec) break;
    dropped += rn;
  }
}

}  // namespace

template <typename Stream>
asio::awaitable<void> ApiServer::session(Stream stream) {
  beast::flat_buffer buffer;
  try {
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
      co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
    }
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      parser.header_limit(16 * 1024);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        co_await refuse_too_large(stream, ec == http::error::body_limit);
        co_return;
      }
      if (ec) co_return;
      auto req = parser.release();
      beast::get_lowest_layer(stream).expires_never();

      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::server, "remsh-master");
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      const std::string target(req.target());
      const std::string path = path_of(target);
      try {
        // Authorization first: nothing, not even a 404, for a caller without a token.
        std::string auth(req[http::field::authorization]);
        std::optional<ApiToken> caller;
        // "Bearer TOKEN", the scheme in any case (RFC 7235).
        if (auth.size() > 7 && beast::iequals(std::string_view(auth).substr(0, 7), "Bearer ")) {
          caller = state_.storage().find_api_token_by_hash(sha256_hex(auth.substr(7)));
        }
        if (!caller) {
          throw ApiError{static_cast<unsigned>(http::status::unauthorized), "unauthorized",
                         "missing or wrong API token (see STATE_DIR/admin.token)"};
        }
        const std::string method(req.method_string());
        const Role need = required_role(method, path);
        const Role have = role_from_name(caller->role).value_or(Role::viewer);
        if (!role_allows(have, need)) {
          throw ApiError{static_cast<unsigned>(http::status::forbidden), "forbidden",
                         "this API token has the " + std::string(role_name(have)) + " role; " +
                             method + " " + path + " needs " + std::string(role_name(need))};
        }
        // A shell's output shows what was typed there: like its recording, for operators.
        const std::optional<std::int64_t> log_of = command_log_id(path);
        if (log_of && !role_allows(have, Role::operator_) && state_.storage().get_shell_session(*log_of)) {
          throw ApiError{static_cast<unsigned>(http::status::forbidden), "forbidden",
                         "command " + std::to_string(*log_of) + " is a shell session: its output needs the operator role"};
        }
        if (websocket::is_upgrade(req)) {
          websocket::stream<Stream> ws(std::move(stream));
          ws.read_message_max(4 << 20);
          // One message, one frame, one write: Beast would otherwise cut output into
          // write_buffer_bytes (4 KiB) frames, a system call each.
          ws.auto_fragment(false);
          co_await ws.async_accept(req, asio::use_awaitable);
          // Closing the socket fails the stream's pending reads and writes: each loop ends.
          const TokenStreams::Handle registered = token_streams_.add(caller->id, [&ws] {
            boost::system::error_code ignored;
            beast::get_lowest_layer(ws).socket().close(ignored);
          });
          if (path == "/api/v1/run") {
            co_await run_ws(ws, caller->id);
          } else if (path == "/api/v1/fs") {
            co_await fs_ws(ws);
          } else if (log_of) {
            co_await log_ws(ws, *log_of, query_param(target, "follow") == "1");
          } else {
            auto out = std::make_shared<WsOutput<websocket::stream<Stream>>>(ws, io_.get_executor());
            out->on_error("not-found", "no WebSocket endpoint " + path);
            co_await out->write_loop();
          }
          HeapTrim::process().note_transient_work();
          co_return;
        }
        json::object body;
        json::value request_body = json::object{};
        if (req.method() == http::verb::post && !req.body().empty()) {
          boost::system::error_code pec;
          request_body = json::parse(req.body(), pec);
          if (pec || !request_body.is_object()) {
            throw ApiError{static_cast<unsigned>(http::status::bad_request), "bad-request", "body must be a JSON object"};
          }
        }
        const AdminRequest admin{method, path, &request_body.get_object(), caller->id};
        std::optional<json::object> repo_answer;
        if (is_repo_route(path)) repo_answer = co_await handle_repo_route(state_, admin);
        if (repo_answer) {
          body = std::move(*repo_answer);
        } else if (auto answer = handle_admin_route(state_, hub_, admin)) {
          body = std::move(*answer);
          if (method == "DELETE" && path.rfind("/api/v1/apitokens/", 0) == 0) {
            token_streams_.end_all(path.substr(18));  // deleted: its open streams end too
          }
        } else if (auto secret_answer = handle_secret_route(state_, admin)) {
          body = std::move(*secret_answer);
        } else if (auto artifact = req.method() == http::verb::get ? artifact_file(path) : std::nullopt) {
          // An artifact's tree archive, streamed from its file (it may be large).
          http::response<http::file_body> file_res{http::status::ok, req.version()};
          file_res.keep_alive(req.keep_alive());
          file_res.set(http::field::content_type, "application/x-remsh-tree-archive");
          beast::error_code fec;
          file_res.body().open(artifact->c_str(), beast::file_mode::scan, fec);
          if (fec) throw ApiError{static_cast<unsigned>(http::status::not_found), "not-found", "the artifact's file is gone: " + fec.message()};
          file_res.prepare_payload();
          auto [wec, wn] = co_await http::async_write(stream, file_res, asio::as_tuple(asio::use_awaitable));
          if (wec || !file_res.keep_alive()) break;
          continue;
        } else if (auto job_answer = jobs_ ? handle_job_route(state_, *jobs_, admin, shutdown_) : std::nullopt) {
          body = std::move(*job_answer);
        } else if (req.method() == http::verb::get && path.rfind("/api/v1/shell-sessions/", 0) == 0 &&
                   path.size() > 33 && path.substr(path.size() - 10) == "/recording") {
          // The asciicast file itself (what `asciinema play` reads), not JSON.
          auto id = parse_id(path.substr(23, path.size() - 33));
          auto session = id ? state_.storage().get_shell_session(*id) : std::nullopt;
          if (!session) throw ApiError{static_cast<unsigned>(http::status::not_found), "not-found", "no shell session " + path.substr(23, path.size() - 33)};
          std::ifstream file(state_.path() / session->recording, std::ios::binary);
          if (!file) throw ApiError{static_cast<unsigned>(http::status::not_found), "not-found", "the recording of shell session " + std::to_string(*id) + " is gone"};
          std::ostringstream text;
          text << file.rdbuf();
          res.set(http::field::content_type, "application/x-asciicast");
          res.body() = text.str();
          res.prepare_payload();
          auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
          if (wec || !res.keep_alive()) break;
          continue;
        } else if (req.method() == http::verb::get && path == "/api/v1/commands") {
          auto limit = parse_id(query_param(target, "limit")).value_or(20);
          body = commands_json(state_, static_cast<std::size_t>(std::clamp<std::int64_t>(limit, 1, 10000)));
        } else if (req.method() == http::verb::get && path.rfind("/api/v1/commands/", 0) == 0) {
          auto id = parse_id(path.substr(17));
          auto record = id ? state_.storage().get_command(*id) : std::nullopt;
          if (!record) throw ApiError{static_cast<unsigned>(http::status::not_found), "not-found", "no command " + path.substr(17)};
          body = command_json(*record);
        } else {
          throw ApiError{static_cast<unsigned>(http::status::not_found), "not-found", "no endpoint " + std::string(req.method_string()) + " " + path};
        }
        res.body() = json::serialize(body);
      } catch (const ApiError& e) {
        res.result(static_cast<http::status>(e.status));
        res.body() = json::serialize(error_body(e.tag, e.message));
      } catch (const StorageError& e) {
        res.result(http::status::internal_server_error);
        res.body() = json::serialize(error_body(e.tag, e.what()));
      }
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      HeapTrim::process().note_transient_work();
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
  } catch (const std::exception& e) {
    std::cerr << "remsh-master: API connection ended: " << e.what() << std::endl;
  }
}

template asio::awaitable<void> ApiServer::session(beast::tcp_stream);
template asio::awaitable<void> ApiServer::session(beast::ssl_stream<beast::tcp_stream>);

}  // namespace remsh::master
