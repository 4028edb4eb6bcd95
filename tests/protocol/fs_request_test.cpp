// FsRequest: the open of an fs channel (docs/protocol.md 9.6).
#include "remsh/protocol/fs_request.hpp"
#include "remsh/protocol/messages.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

using namespace remsh::protocol;
namespace json = boost::json;

namespace {

Parsed<FsRequest> parse(const std::string& text) { return FsRequest::parse(json::parse(text).as_object()); }

ErrorTag refused(const std::string& text) {
  auto r = parse(text);
  if (auto* e = std::get_if<ProtocolError>(&r)) return e->tag;
  FAIL(text << " was accepted");
  return ErrorTag::internal;
}

}  // namespace

TEST_CASE("fs request: every op parses and round-trips through to_json", "[fs]") {
  for (const char* op : {"stat", "list", "manifest", "mkdir", "remove", "hash", "read", "write", "get_tree", "put_tree"}) {
    auto r = parse(std::string(R"({"type":"open","kind":"fs","op":")") + op + R"(","path":"a/b"})");
    REQUIRE(std::holds_alternative<FsRequest>(r));
    const FsRequest& req = std::get<FsRequest>(r);
    CHECK(fs_op_name(req.op) == op);
    auto again = FsRequest::parse(req.to_json());
    REQUIRE(std::holds_alternative<FsRequest>(again));
    CHECK(std::get<FsRequest>(again).path == "a/b");
  }
}

TEST_CASE("fs request: write carries size sha256 mode and mtime", "[fs]") {
  const std::string digest(64, 'a');
  auto r = parse(R"({"type":"open","kind":"fs","op":"write","path":"x","size":12,"mode":420,)"
                 R"("mtime_ms":-5,"parents":true,"sha256":")" + digest + R"("})");
  REQUIRE(std::holds_alternative<FsRequest>(r));
  const FsRequest& w = std::get<FsRequest>(r);
  CHECK(*w.size == 12);
  CHECK(*w.mode == 0644);
  CHECK(*w.mtime_ms == -5);
  CHECK(*w.sha256 == digest);
  CHECK(w.parents);
  auto back = FsRequest::parse(w.to_json());
  REQUIRE(std::holds_alternative<FsRequest>(back));
  CHECK(*std::get<FsRequest>(back).sha256 == digest);
}

TEST_CASE("fs request: remove takes several paths", "[fs]") {
  auto r = parse(R"({"type":"open","kind":"fs","op":"remove","paths":["a","b/c"]})");
  REQUIRE(std::holds_alternative<FsRequest>(r));
  CHECK(std::get<FsRequest>(r).paths == std::vector<std::string>{"a", "b/c"});
  CHECK(refused(R"({"type":"open","kind":"fs","op":"remove","paths":[]})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"remove","paths":[""]})") == ErrorTag::bad_message);
}

TEST_CASE("fs request: malformed fields are refused with the right tag", "[fs]") {
  CHECK(refused(R"({"type":"open","kind":"fs","op":"explode","path":"a"})") == ErrorTag::unsupported);
  CHECK(refused(R"({"type":"open","kind":"fs","path":"a"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path":""})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path":"a\u0000b"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"rename","path":"a"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"chmod","path":"a"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"chmod","path":"a","mode":4096})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"write","path":"a","sha256":"ABC"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"list","path":"a","glob":""})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"read","path":"a","offset":-1})") == ErrorTag::bad_message);
  const std::string long_path(4097, 'p');
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path":")" + long_path + R"("})") == ErrorTag::bad_message);
}

TEST_CASE("fs request: validate_control knows the fs kind and fs results", "[fs]") {
  auto open = parse_control(as_bytes(R"({"type":"open","kind":"fs","op":"stat","path":"a"})"));
  REQUIRE(std::holds_alternative<ControlMessage>(open));
  CHECK_FALSE(validate_control(std::get<ControlMessage>(open)));
  auto result = parse_control(as_bytes(R"({"type":"result","exists":false})"));
  REQUIRE(std::holds_alternative<ControlMessage>(result));
  CHECK_FALSE(validate_control(std::get<ControlMessage>(result)));
  auto bad = parse_control(as_bytes(R"({"type":"open","kind":"fs","op":"nope","path":"a"})"));
  REQUIRE(std::holds_alternative<ControlMessage>(bad));
  CHECK(validate_control(std::get<ControlMessage>(bad))->tag == ErrorTag::unsupported);
}

TEST_CASE("fs request: names that are not UTF-8 travel as path_b64, to_b64 and paths_b64", "[fs]") {
  FsRequest rename;
  rename.op = FsOp::rename;
  rename.path = "dir/caf\xE9";
  rename.to = "ok/caf\xC3\xA9";  // UTF-8: sent as text
  const json::object o = rename.to_json();
  CHECK(o.at("path_b64") == "ZGlyL2NhZuk");
  CHECK_FALSE(o.contains("path"));
  CHECK(o.at("to") == "ok/caf\xC3\xA9");
  auto back = FsRequest::parse(o);
  REQUIRE(std::holds_alternative<FsRequest>(back));
  CHECK(std::get<FsRequest>(back).path == rename.path);
  CHECK(*std::get<FsRequest>(back).to == *rename.to);

  FsRequest remove;
  remove.op = FsOp::remove;
  remove.paths = {"plain", "\xFF"};
  const json::object r = remove.to_json();
  REQUIRE(r.contains("paths_b64"));  // one name is not UTF-8: all of them in base64
  CHECK(r.at("paths_b64").as_array().size() == 2);
  auto paths = FsRequest::parse(r);
  REQUIRE(std::holds_alternative<FsRequest>(paths));
  CHECK(std::get<FsRequest>(paths).paths == remove.paths);

  // A receiver takes base64 even for UTF-8 bytes; the limits apply to the decoded bytes.
  auto utf8_in_b64 = parse(R"({"type":"open","kind":"fs","op":"stat","path_b64":"YS9i"})");
  REQUIRE(std::holds_alternative<FsRequest>(utf8_in_b64));
  CHECK(std::get<FsRequest>(utf8_in_b64).path == "a/b");
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path":"a","path_b64":"YQ"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path_b64":"YQ=="})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path_b64":"Y2Fm6"})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path_b64":"Y2Fm6R"})") == ErrorTag::bad_message);  // bits left over
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path_b64":"Y+Fm"})") == ErrorTag::bad_message);    // not base64url
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path_b64":"YQB4"})") == ErrorTag::bad_message);  // a NUL
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path_b64":""})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"rename","path":"a","to_b64":7})") == ErrorTag::bad_message);
  CHECK(refused(R"({"type":"open","kind":"fs","op":"remove","paths_b64":["YQ","a b"]})") == ErrorTag::bad_message);
  const std::string long_b64(5464 + 4, 'Q');  // decodes to more than 4096 bytes
  CHECK(refused(R"({"type":"open","kind":"fs","op":"stat","path_b64":")" + long_b64 + R"("})") == ErrorTag::bad_message);
}
