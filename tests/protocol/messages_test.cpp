#include <catch2/catch.hpp>

#include "remsh/protocol/messages.hpp"

using namespace remsh::protocol;
namespace json = boost::json;

namespace {

ControlMessage parse_ok(const std::string& text) {
  auto r = parse_control(as_bytes(text));
  if (auto* e = std::get_if<ProtocolError>(&r)) FAIL(e->describe());
  return std::get<ControlMessage>(r);
}

template <typename T>
T round_trip(const T& value) {
  std::string text = serialize(value.to_json());
  auto m = parse_ok(text);
  REQUIRE_FALSE(validate_control(m));
  auto parsed = T::parse(m.body);
  if (auto* e = std::get_if<ProtocolError>(&parsed)) FAIL(e->describe());
  return std::get<T>(parsed);
}

ErrorTag error_of(const std::string& text) {
  auto r = parse_control(as_bytes(text));
  if (auto* e = std::get_if<ProtocolError>(&r)) return e->tag;
  auto e = validate_control(std::get<ControlMessage>(r));
  REQUIRE(e);
  return e->tag;
}

}  // namespace

TEST_CASE("hello round-trips with capabilities and resume", "[messages]") {
  Hello h;
  h.role = "agent";
  h.software = "remsh-agent/0.1.0";
  h.agent = "builder";
  h.nonce = std::string(64, 'a');
  h.capabilities.pty = true;
  h.capabilities.codecs = {Codec::deflate};
  h.resume = ResumeRequest{"s-9", 77};
  Hello back = round_trip(h);
  REQUIRE(back.role == "agent");
  REQUIRE(back.agent == "builder");
  REQUIRE(back.capabilities.pty);
  REQUIRE(back.capabilities.codecs == std::vector<Codec>{Codec::deflate});
  REQUIRE(back.capabilities.window == kDefaultWindow);
  REQUIRE(back.resume->session == "s-9");
  REQUIRE(back.resume->received == 77);
}

TEST_CASE("exec request round-trips", "[messages]") {
  ExecRequest r;
  r.argv = {"sh", "-c", "echo \"$X\""};
  r.cwd = "build";
  r.env = {{"X", "1"}, {"DROP", std::nullopt}};
  r.env_clear = true;
  r.stdin_ = true;
  r.pty = PtyRequest{100, 30, "vt100"};
  r.timeout_s = 60;
  ExecRequest back = round_trip(r);
  REQUIRE(back.argv == r.argv);
  REQUIRE(back.env == r.env);
  REQUIRE(back.env_clear);
  REQUIRE(back.stdin_);
  REQUIRE(back.pty->cols == 100);
  REQUIRE(back.pty->term == "vt100");
  REQUIRE(back.timeout_s == 60u);
  REQUIRE_FALSE(back.no_output_timeout_s);
}

TEST_CASE("result, signal, resize, welcome, error round-trip", "[messages]") {
  ExecResult res{"signaled", std::nullopt, "KILL", 5, 1, 2, 3};
  REQUIRE(round_trip(res).signal == "KILL");
  REQUIRE(round_trip(Signal{"TERM", false}).group == false);
  REQUIRE(round_trip(Resize{132, 43}).cols == 132);
  Welcome w{"s", true, 5, {Codec::zstd, Codec::deflate}, 10, 30};
  auto wb = round_trip(w);
  REQUIRE(wb.resumed);
  REQUIRE(wb.codecs.size() == 2);
  auto e = round_trip(ErrorMessage::from({ErrorTag::exec_failed, "no such file"}));
  REQUIRE(e.tag == "exec-failed");
}

TEST_CASE("a restarted master's welcome and the agent's resume with sent (7.4)", "[messages]") {
  Welcome w{"s", true, 812, {Codec::deflate}, 15, 45};
  w.restarted = true;
  w.channels = {7, 9};
  auto back = round_trip(w);
  REQUIRE(back.restarted);
  REQUIRE(back.channels == std::vector<std::uint32_t>{7, 9});
  REQUIRE_FALSE(round_trip(Welcome{"s", true, 1, {Codec::deflate}, 15, 45}).restarted);
  REQUIRE(error_of(R"({"type":"welcome","session":"s","resumed":false,"restarted":true,"channels":[],)"
                   R"("codecs":["deflate"],"keepalive_s":15,"dead_after_s":45})") == ErrorTag::bad_message);
  REQUIRE(error_of(R"({"type":"welcome","session":"s","resumed":true,"restarted":true,"channels":[0],)"
                   R"("codecs":["deflate"],"keepalive_s":15,"dead_after_s":45})") == ErrorTag::bad_message);
  REQUIRE(error_of(R"({"type":"welcome","session":"s","resumed":true,"restarted":true,"channels":["7"],)"
                   R"("codecs":["deflate"],"keepalive_s":15,"dead_after_s":45})") == ErrorTag::bad_message);

  Hello h;
  h.role = "agent";
  h.software = "a";
  h.agent = "b";
  h.nonce = std::string(64, 'a');
  h.capabilities.reattach = true;
  h.resume = ResumeRequest{"s-9", 77, 120};
  Hello hb = round_trip(h);
  REQUIRE(hb.capabilities.reattach);
  REQUIRE(hb.resume->sent == 120);
  // Absent: 0 and false (an older agent).
  h.capabilities.reattach = false;
  h.resume = ResumeRequest{"s-9", 77};
  const std::string text = serialize(h.to_json());
  REQUIRE(text.find("reattach") == std::string::npos);
  REQUIRE(text.find("sent") == std::string::npos);
  REQUIRE(round_trip(h).resume->sent == 0);
}

TEST_CASE("unknown fields are ignored", "[messages]") {
  auto m = parse_ok(R"({"type":"resize","cols":3,"rows":4,"colour":"blue"})");
  REQUIRE_FALSE(validate_control(m));
}

TEST_CASE("malformed control payloads are bad-message", "[messages]") {
  REQUIRE(error_of("nope") == ErrorTag::bad_message);
  REQUIRE(error_of("[]") == ErrorTag::bad_message);
  REQUIRE(error_of(R"({"type":""})") == ErrorTag::bad_message);
  REQUIRE(error_of("{\"type\":\"close\",\"x\":\"\xc3\x28\"}") == ErrorTag::bad_message);
  REQUIRE(error_of(R"({"type":"close"} trailing)") == ErrorTag::bad_message);
  REQUIRE(error_of(R"({"type":"close","x":[1e999]})") == ErrorTag::bad_message);
}

TEST_CASE("JSON nesting is bounded", "[messages][limits]") {
  std::string deep = R"({"type":"close","x":)" + std::string(kMaxJsonDepth + 5, '[') +
                     std::string(kMaxJsonDepth + 5, ']') + "}";
  REQUIRE(error_of(deep) == ErrorTag::bad_message);
  std::string ok = R"({"type":"close","x":)" + std::string(10, '[') + std::string(10, ']') + "}";
  REQUIRE_FALSE(validate_control(parse_ok(ok)));
}

TEST_CASE("oversized strings and lists are refused", "[messages][limits]") {
  std::string big(kMaxStringLength + 1, 'x');
  REQUIRE(error_of(R"({"type":"open","kind":"exec","shell":")" + big + "\"}") ==
          ErrorTag::bad_message);
  std::string argv = R"({"type":"open","kind":"exec","argv":[)";
  for (std::size_t i = 0; i <= kMaxArgvEntries; ++i) argv += (i ? ",\"a\"" : "\"a\"");
  argv += "]}";
  REQUIRE(error_of(argv) == ErrorTag::bad_message);
}

TEST_CASE("field validation names the field", "[messages]") {
  auto r = parse_control(as_bytes(R"({"type":"resize","cols":0,"rows":1})"));
  auto e = validate_control(std::get<ControlMessage>(r));
  REQUIRE(e);
  REQUIRE(e->message.find("resize.cols") != std::string::npos);
}

TEST_CASE("unknown types and kinds", "[messages]") {
  REQUIRE(error_of(R"({"type":"dance"})") == ErrorTag::unknown_message);
  REQUIRE(error_of(R"({"type":"open","kind":"teleport"})") == ErrorTag::unsupported);
  REQUIRE(error_of(R"({"type":"open"})") == ErrorTag::bad_message);
}

TEST_CASE("capabilities skip unknown codecs but require deflate", "[messages]") {
  auto caps = Capabilities{}.to_json();
  caps["codecs"] = json::array{"lz4", "deflate"};
  auto parsed = std::get<Capabilities>(Capabilities::parse(caps));
  REQUIRE(parsed.codecs == std::vector<Codec>{Codec::deflate});
  caps["codecs"] = json::array{"zstd"};
  REQUIRE(std::holds_alternative<ProtocolError>(Capabilities::parse(caps)));
}
