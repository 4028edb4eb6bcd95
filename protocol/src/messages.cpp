#include "remsh/protocol/messages.hpp"

#include "remsh/protocol/fs_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "remsh/protocol/json_fields.hpp"
#include "remsh/protocol/stream_codec.hpp"
#include "remsh/protocol/utf8.hpp"
#include "zstd_codec.hpp"

namespace remsh::protocol {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxNameLength = 256;

template <typename T>
Parsed<T> finish(const JsonFields& fields, T value) {
  if (fields.error()) return *fields.error();
  return value;
}

bool is_hex(std::string_view s, std::size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

json::array codec_array(const std::vector<Codec>& codecs) {
  json::array out;
  for (Codec c : codecs) out.emplace_back(codec_name(c));
  return out;
}

// Unknown codec names are skipped: a newer peer may offer codecs we lack.
std::vector<Codec> known_codecs(const std::vector<std::string>& names) {
  std::vector<Codec> out;
  for (const auto& n : names) {
    auto c = codec_from_name(n);
    if (c && *c != Codec::none) out.push_back(*c);
  }
  return out;
}

std::uint32_t u32(std::uint64_t v) { return static_cast<std::uint32_t>(v); }

// JSON has no infinities, but a number too large for a double parses as one and would not
// survive being sent on. Depth is already bounded by the parser, so recursion is safe.
bool all_numbers_finite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& e : v.get_array()) {
        if (!all_numbers_finite(e)) return false;
      }
      return true;
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (!all_numbers_finite(kv.value())) return false;
      }
      return true;
    default: return true;
  }
}

}  // namespace

Parsed<ControlMessage> parse_control(ByteView payload) {
  if (payload.size() > kMaxControlPayload) {
    return ProtocolError{ErrorTag::frame_too_large, "control message too large"};
  }
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(as_chars(payload), ec, {}, options);
  if (ec) return ProtocolError{ErrorTag::bad_message, "invalid JSON: " + ec.message()};
  if (!v.is_object()) return ProtocolError{ErrorTag::bad_message, "not a JSON object"};
  if (!all_numbers_finite(v)) {
    return ProtocolError{ErrorTag::bad_message, "number out of range"};
  }
  json::object& o = v.get_object();
  auto it = o.find("type");
  if (it == o.end() || !it->value().is_string()) {
    return ProtocolError{ErrorTag::bad_message, "missing string field \"type\""};
  }
  const json::string& t = it->value().get_string();
  if (t.empty() || t.size() > kMaxNameLength) {
    return ProtocolError{ErrorTag::bad_message, "bad \"type\""};
  }
  ControlMessage m;
  m.type.assign(t.data(), t.size());
  m.body = std::move(o);
  return m;
}

std::string serialize(const json::object& object) { return json::serialize(object); }

// ---- Capabilities ----

std::vector<Codec> default_codecs() {
  std::vector<Codec> codecs;
  if (zstd_available()) codecs.push_back(Codec::zstd);
  codecs.push_back(Codec::deflate);
  return codecs;
}

json::object Capabilities::to_json() const {
  json::object o{{"codecs", codec_array(codecs)},   {"resume", resume},
          {"pty", pty},                      {"max_channels", max_channels},
          {"max_frame", max_frame},          {"window", window},
          {"replay_bytes", replay_bytes},    {"keepalive_s", keepalive_s},
          {"status", status}};
  if (reattach) o["reattach"] = true;
  return o;
}

Parsed<Capabilities> Capabilities::parse(const json::object& object) {
  JsonFields f(object, "capabilities");
  Capabilities c;
  c.codecs = known_codecs(f.strings("codecs", 16, kMaxNameLength));
  c.resume = f.boolean("resume", false);
  c.pty = f.boolean("pty", false);
  c.max_channels = u32(f.uint("max_channels", 1, kMaxChannelsCeiling));
  c.max_frame = u32(f.uint("max_frame", kMinFramePayload, kMaxFramePayload));
  c.window = u32(f.uint("window", kMinWindow, kMaxWindow));
  c.replay_bytes = f.uint("replay_bytes", kMinReplayBytes, kMaxReplayBytes);
  c.keepalive_s = u32(f.uint("keepalive_s", 1, 3600));
  c.status = f.boolean("status", false);
  c.reattach = f.boolean("reattach", false);
  if (!f.error() && std::find(c.codecs.begin(), c.codecs.end(), Codec::deflate) == c.codecs.end()) {
    f.fail("codecs", "must include deflate");
  }
  return finish(f, std::move(c));
}

// ---- Hello ----

json::object Hello::to_json() const {
  json::object o{{"type", "hello"},
                 {"version", version},
                 {"role", role},
                 {"software", software},
                 {"capabilities", capabilities.to_json()}};
  if (agent) o["agent"] = *agent;
  if (nonce) o["nonce"] = *nonce;
  if (resume) {
    json::object r{{"session", resume->session}, {"received", resume->received}};
    if (resume->sent) r["sent"] = resume->sent;
    o["resume"] = std::move(r);
  }
  if (facts) o["facts"] = *facts;
  return o;
}

Parsed<Hello> Hello::parse(const json::object& object) {
  JsonFields f(object, "hello");
  Hello h;
  h.version = static_cast<std::uint16_t>(f.uint("version", 1, 65535));
  h.role = f.string("role", 16);
  if (!f.error() && h.role != "agent" && h.role != "master") f.fail("role", "must be agent or master");
  h.software = f.string("software", kMaxNameLength);
  if (const json::object* caps = f.optional_object("capabilities")) {
    auto parsed = Capabilities::parse(*caps);
    if (auto* e = std::get_if<ProtocolError>(&parsed)) return *e;
    h.capabilities = std::get<Capabilities>(parsed);
  } else if (!f.error()) {
    f.fail("capabilities", "is required");
  }
  h.agent = f.optional_string("agent", kMaxNameLength);
  h.nonce = f.optional_string("nonce", 64);
  if (h.nonce && !is_hex(*h.nonce, 64)) f.fail("nonce", "must be 64 lowercase hex digits");
  if (!f.error() && h.agent.has_value() != h.nonce.has_value()) {
    f.fail("nonce", "agent and nonce go together");
  }
  if (!f.error() && h.role == "master" && (h.agent || h.nonce || object.contains("resume"))) {
    f.fail("role", "agent, nonce and resume are for agents");
  }
  if (const json::object* r = f.optional_object("resume")) {
    JsonFields rf(*r, "hello.resume");
    ResumeRequest req;
    req.session = rf.string("session", kMaxNameLength);
    req.received = rf.uint("received", 0, UINT64_MAX);
    req.sent = rf.optional_uint("sent", 0, UINT64_MAX).value_or(0);
    if (rf.error()) return *rf.error();
    h.resume = std::move(req);
  }
  if (const json::object* facts = f.optional_object("facts")) h.facts = *facts;
  return finish(f, std::move(h));
}

// ---- Challenge / Auth ----

json::object Challenge::to_json() const { return {{"type", "challenge"}, {"nonce", nonce}}; }

Parsed<Challenge> Challenge::parse(const json::object& object) {
  JsonFields f(object, "challenge");
  Challenge c{f.string("nonce", 64)};
  if (!f.error() && !is_hex(c.nonce, 64)) f.fail("nonce", "must be 64 lowercase hex digits");
  return finish(f, std::move(c));
}

json::object Auth::to_json() const { return {{"type", "auth"}, {"proof", proof}}; }

Parsed<Auth> Auth::parse(const json::object& object) {
  JsonFields f(object, "auth");
  Auth a{f.string("proof", 64)};
  if (!f.error() && !is_hex(a.proof, 64)) f.fail("proof", "must be 64 lowercase hex digits");
  return finish(f, std::move(a));
}

// ---- Enroll / Enrolled ----

json::object Enroll::to_json() const {
  json::object o{{"type", "enroll"}, {"token", token}};
  if (name) o["name"] = *name;
  return o;
}

Parsed<Enroll> Enroll::parse(const json::object& object) {
  JsonFields f(object, "enroll");
  Enroll e;
  e.token = f.string("token", 1024);
  e.name = f.optional_string("name", kMaxNameLength);
  return finish(f, std::move(e));
}

json::object Enrolled::to_json() const {
  return {{"type", "enrolled"}, {"agent", agent}, {"secret", secret}};
}

Parsed<Enrolled> Enrolled::parse(const json::object& object) {
  JsonFields f(object, "enrolled");
  Enrolled e;
  e.agent = f.string("agent", kMaxNameLength);
  e.secret = f.string("secret", 64);
  if (!f.error() && !is_hex(e.secret, 64)) f.fail("secret", "must be 64 lowercase hex digits");
  return finish(f, std::move(e));
}

// ---- Welcome ----

json::object Welcome::to_json() const {
  json::object o{{"type", "welcome"},         {"session", session},
                 {"resumed", resumed},        {"received", received},
                 {"codecs", codec_array(codecs)}, {"keepalive_s", keepalive_s},
                 {"dead_after_s", dead_after_s}};
  if (restarted) {
    o["restarted"] = true;
    json::array ids;
    for (std::uint32_t id : channels) ids.push_back(id);
    o["channels"] = std::move(ids);
  }
  return o;
}

Parsed<Welcome> Welcome::parse(const json::object& object) {
  JsonFields f(object, "welcome");
  Welcome w;
  w.session = f.string("session", kMaxNameLength);
  w.resumed = f.boolean("resumed", false);
  w.received = f.optional_uint("received", 0, UINT64_MAX).value_or(0);
  w.codecs = known_codecs(f.strings("codecs", 16, kMaxNameLength));
  w.keepalive_s = u32(f.uint("keepalive_s", 1, 3600));
  w.dead_after_s = u32(f.uint("dead_after_s", 2, 3 * 3600));
  if (!f.error() && w.dead_after_s <= w.keepalive_s) {
    f.fail("dead_after_s", "must exceed keepalive_s");
  }
  w.restarted = f.boolean("restarted", false);
  if (!f.error() && w.restarted && !w.resumed) f.fail("restarted", "goes with resumed");
  if (w.restarted) w.channels = f.channel_ids("channels", kMaxChannelsCeiling);
  return finish(f, std::move(w));
}

// ---- Error / Goodbye ----

ErrorMessage ErrorMessage::from(const ProtocolError& error) {
  return {std::string(tag_name(error.tag)), error.message};
}

json::object ErrorMessage::to_json() const {
  // Messages quote file names, which are bytes (9.6); JSON text must be UTF-8 (5).
  return {{"type", "error"}, {"tag", tag}, {"message", to_utf8_lossy(message)}};
}

Parsed<ErrorMessage> ErrorMessage::parse(const json::object& object) {
  JsonFields f(object, "error");
  ErrorMessage e;
  e.tag = f.string("tag", kMaxNameLength);
  e.message = f.optional_string("message").value_or("");
  return finish(f, std::move(e));
}

json::object Goodbye::to_json() const { return {{"type", "goodbye"}, {"reason", reason}}; }

Parsed<Goodbye> Goodbye::parse(const json::object& object) {
  JsonFields f(object, "goodbye");
  Goodbye g{f.optional_string("reason").value_or("")};
  return finish(f, std::move(g));
}

// ---- Status ----

json::object Status::to_json() const {
  return {{"type", "status"}, {"draining", draining}, {"reason", reason}};
}

Parsed<Status> Status::parse(const json::object& object) {
  JsonFields f(object, "status");
  Status s;
  s.draining = f.boolean("draining", false);
  s.reason = f.optional_string("reason").value_or("");
  return finish(f, std::move(s));
}

// ---- NoticeRequest ----

json::object NoticeRequest::to_json() const {
  json::object o{{"type", "open"}, {"kind", "notice"}, {"id", id}, {"text", text}};
  if (from) o["from"] = *from;
  if (rename) o["rename"] = *rename;
  return o;
}

Parsed<NoticeRequest> NoticeRequest::parse(const json::object& object) {
  JsonFields f(object, "notice");
  NoticeRequest n;
  n.id = f.string("id", kMaxNameLength);
  n.text = f.optional_string("text").value_or("");
  n.from = f.optional_string("from", kMaxNameLength);
  n.rename = f.optional_string("rename", kMaxNameLength);
  if (!f.error() && n.rename && n.rename->empty()) f.fail("rename", "must not be empty");
  return finish(f, std::move(n));
}

// ---- ExecRequest ----

json::object ExecRequest::to_json() const {
  json::object o{{"type", "open"}, {"kind", "exec"}};
  if (shell) {
    o["shell"] = *shell;
  } else if (interactive && argv.empty()) {
    // the agent's login shell
  } else {
    json::array a;
    for (const auto& s : argv) a.emplace_back(s);
    o["argv"] = std::move(a);
  }
  if (cwd) o["cwd"] = *cwd;
  if (!env.empty()) {
    json::object e;
    for (const auto& [k, v] : env) {
      if (v) {
        e[k] = *v;
      } else {
        e[k] = nullptr;
      }
    }
    o["env"] = std::move(e);
  }
  if (env_clear) o["env_clear"] = true;
  if (stdin_) o["stdin"] = true;
  if (pty) o["pty"] = json::object{{"cols", pty->cols}, {"rows", pty->rows}, {"term", pty->term}};
  if (interactive) o["interactive"] = true;
  if (timeout_s) o["timeout_s"] = *timeout_s;
  if (no_output_timeout_s) o["no_output_timeout_s"] = *no_output_timeout_s;
  return o;
}

Parsed<ExecRequest> ExecRequest::parse(const json::object& object) {
  JsonFields f(object, "open.exec");
  ExecRequest r;
  const bool has_argv = object.contains("argv") && !object.at("argv").is_null();
  r.argv = f.strings("argv", kMaxArgvEntries);
  r.shell = f.optional_string("shell");
  r.interactive = f.boolean("interactive", false);
  if (!f.error()) {
    if (r.shell && has_argv) f.fail("argv", "give argv or shell, not both");
    // An interactive shell with neither runs the agent user's login shell.
    if (!r.shell && r.argv.empty() && !(r.interactive && !has_argv)) {
      f.fail("argv", "argv (non-empty) or shell is required");
    }
    if (!r.argv.empty() && r.argv[0].empty()) f.fail("argv", "argv[0] is empty");
    // Process arguments, names and paths cannot hold NUL bytes on any platform.
    for (const auto& a : r.argv) {
      if (a.find('\0') != std::string::npos) f.fail("argv", "contains a NUL byte");
    }
    if (r.shell && r.shell->find('\0') != std::string::npos) f.fail("shell", "contains a NUL byte");
  }
  r.cwd = f.optional_string("cwd", kMaxPathLength);
  if (r.cwd && r.cwd->find('\0') != std::string::npos) f.fail("cwd", "contains a NUL byte");
  if (const json::object* env = f.optional_object("env")) {
    if (env->size() > kMaxEnvEntries) f.fail("env", "too many entries");
    for (const auto& kv : *env) {
      if (f.error()) break;
      std::string_view key = kv.key();
      if (key.empty() || key.find('=') != std::string_view::npos || key.size() > kMaxNameLength ||
          key.find('\0') != std::string_view::npos) {
        f.fail("env", "names must be non-empty, without '=', at most 256 bytes");
      } else if (kv.value().is_null()) {
        r.env.emplace(std::string(key), std::nullopt);
      } else if (kv.value().is_string() && kv.value().get_string().size() <= kMaxStringLength &&
                 std::string_view(kv.value().get_string()).find('\0') == std::string_view::npos) {
        r.env.emplace(std::string(key), std::string(kv.value().get_string()));
      } else {
        f.fail("env", "values must be strings (at most 32 KiB) or null");
      }
    }
  }
  r.env_clear = f.boolean("env_clear", false);
  r.stdin_ = f.boolean("stdin", false);
  if (const json::object* p = f.optional_object("pty")) {
    JsonFields pf(*p, "open.exec.pty");
    PtyRequest pty;
    pty.cols = u32(pf.optional_uint("cols", 1, 10000).value_or(80));
    pty.rows = u32(pf.optional_uint("rows", 1, 10000).value_or(24));
    pty.term = pf.optional_string("term", 64).value_or("xterm-256color");
    if (pf.error()) return *pf.error();
    r.pty = std::move(pty);
  }
  r.timeout_s = f.optional_uint("timeout_s", 1, 366ull * 24 * 3600);
  r.no_output_timeout_s = f.optional_uint("no_output_timeout_s", 1, 366ull * 24 * 3600);
  return finish(f, std::move(r));
}

// ---- Opened / Signal / Resize / Result / Close ----

json::object Opened::to_json() const {
  json::object o{{"type", "opened"}};
  if (pid) o["pid"] = *pid;
  return o;
}

Parsed<Opened> Opened::parse(const json::object& object) {
  JsonFields f(object, "opened");
  Opened o{f.optional_uint("pid", 0, UINT32_MAX)};
  return finish(f, std::move(o));
}

json::object Signal::to_json() const {
  return {{"type", "signal"}, {"signal", signal}, {"group", group}};
}

Parsed<Signal> Signal::parse(const json::object& object) {
  static constexpr std::array<std::string_view, 7> kNames{"INT", "TERM", "KILL", "HUP",
                                                          "QUIT", "USR1", "USR2"};
  JsonFields f(object, "signal");
  Signal s;
  s.signal = f.string("signal", 8);
  if (!f.error() && std::find(kNames.begin(), kNames.end(), s.signal) == kNames.end()) {
    f.fail("signal", "must be one of INT TERM KILL HUP QUIT USR1 USR2");
  }
  s.group = f.boolean("group", true);
  return finish(f, std::move(s));
}

json::object Resize::to_json() const {
  return {{"type", "resize"}, {"cols", cols}, {"rows", rows}};
}

Parsed<Resize> Resize::parse(const json::object& object) {
  JsonFields f(object, "resize");
  Resize r;
  r.cols = u32(f.uint("cols", 1, 10000));
  r.rows = u32(f.uint("rows", 1, 10000));
  return finish(f, std::move(r));
}

json::object ExecResult::to_json() const {
  json::object o{{"type", "result"},           {"reason", reason},
                 {"elapsed_ms", elapsed_ms},   {"cpu_user_ms", cpu_user_ms},
                 {"cpu_system_ms", cpu_system_ms}, {"max_rss_kb", max_rss_kb}};
  if (exit_code) o["exit_code"] = *exit_code;
  if (signal) o["signal"] = *signal;
  return o;
}

Parsed<ExecResult> ExecResult::parse(const json::object& object) {
  static constexpr std::array<std::string_view, 5> kReasons{
      "exited", "signaled", "timeout", "no-output-timeout", "cancelled"};
  JsonFields f(object, "result");
  ExecResult r;
  r.reason = f.string("reason", 32);
  if (!f.error() && std::find(kReasons.begin(), kReasons.end(), r.reason) == kReasons.end()) {
    f.fail("reason", "unknown reason");
  }
  r.exit_code = f.optional_int("exit_code", INT32_MIN, UINT32_MAX);
  r.signal = f.optional_string("signal", 16);
  if (!f.error() && r.reason == "exited" && !r.exit_code) f.fail("exit_code", "is required when exited");
  if (!f.error() && r.reason == "signaled" && !r.signal) f.fail("signal", "is required when signaled");
  r.elapsed_ms = f.optional_uint("elapsed_ms", 0, UINT64_MAX).value_or(0);
  r.cpu_user_ms = f.optional_uint("cpu_user_ms", 0, UINT64_MAX).value_or(0);
  r.cpu_system_ms = f.optional_uint("cpu_system_ms", 0, UINT64_MAX).value_or(0);
  r.max_rss_kb = f.optional_uint("max_rss_kb", 0, UINT64_MAX).value_or(0);
  return finish(f, std::move(r));
}

json::object Close::to_json() const { return {{"type", "close"}}; }

}  // namespace remsh::protocol

namespace remsh::protocol {

namespace {
template <typename T>
std::optional<ProtocolError> check(const json::object& body) {
  auto parsed = T::parse(body);
  if (auto* e = std::get_if<ProtocolError>(&parsed)) return *e;
  return std::nullopt;
}
}  // namespace

std::optional<ProtocolError> validate_control(const ControlMessage& m) {
  const json::object& b = m.body;
  if (m.type == "hello") return check<Hello>(b);
  if (m.type == "challenge") return check<Challenge>(b);
  if (m.type == "auth") return check<Auth>(b);
  if (m.type == "welcome") return check<Welcome>(b);
  if (m.type == "enroll") return check<Enroll>(b);
  if (m.type == "enrolled") return check<Enrolled>(b);
  if (m.type == "error") return check<ErrorMessage>(b);
  if (m.type == "goodbye") return check<Goodbye>(b);
  if (m.type == "status") return check<Status>(b);
  if (m.type == "opened") return check<Opened>(b);
  if (m.type == "signal") return check<Signal>(b);
  if (m.type == "resize") return check<Resize>(b);
  // Without the channel's kind: a result with a reason is exec's; fs results are objects
  // whose fields depend on the operation (docs/protocol.md 9.6).
  if (m.type == "result") return b.contains("reason") ? check<ExecResult>(b) : std::nullopt;
  if (m.type == "close") return std::nullopt;
  if (m.type == "open") {
    auto it = b.find("kind");
    if (it == b.end() || !it->value().is_string()) {
      return ProtocolError{ErrorTag::bad_message, "open.kind: is required"};
    }
    if (it->value().get_string() == "exec") return check<ExecRequest>(b);
    if (it->value().get_string() == "fs") return check<FsRequest>(b);
    if (it->value().get_string() == "notice") return check<NoticeRequest>(b);
    return ProtocolError{ErrorTag::unsupported,
                         "unknown channel kind \"" + std::string(it->value().get_string()) + "\""};
  }
  return ProtocolError{ErrorTag::unknown_message, "unknown message type \"" + m.type + "\""};
}

}  // namespace remsh::protocol
