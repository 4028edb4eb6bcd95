// Command records from the master: exit codes, the EXIT column, the `remsh logs` listing.
#include "command_record.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

using namespace remsh::cli;

namespace {

CommandRecord record(const char* json) { return parse_command_record(boost::json::parse(json)); }

// Local time as UTC for the test's duration.
struct UtcZone {
    UtcZone() {
        if (const char* tz = std::getenv("TZ")) {
            saved = tz;
            had = true;
        }
        ::setenv("TZ", "UTC", 1);
        ::tzset();
    }
    ~UtcZone() {
        if (had) {
            ::setenv("TZ", saved.c_str(), 1);
        } else {
            ::unsetenv("TZ");
        }
        ::tzset();
    }
    std::string saved;
    bool had = false;
};

}  // namespace

TEST_CASE("command records: fields", "[cli][record]") {
    const CommandRecord r = record(
        R"({"id":7,"agent":"a1","state":"finished","exit_code":0,"signal":null,
            "started_ms":1764147600000,"finished_ms":1764147601250,
            "command":["make","-j2"],"stdout_bytes":1234,"stderr_bytes":0})");
    CHECK(r.id == "7");
    CHECK(r.agent == "a1");
    CHECK(r.state == "finished");
    CHECK(r.exit_code == 0);
    CHECK(r.signal.empty());
    CHECK(r.started_ms == 1764147600000);
    CHECK(r.command == std::vector<std::string>{"make", "-j2"});
}

TEST_CASE("command records: outcome of an exit code", "[cli][record]") {
    CHECK(command_outcome(record(R"({"state":"finished","exit_code":0})")).exit_code == 0);
    const CommandOutcome o = command_outcome(record(R"({"state":"finished","exit_code":3})"));
    CHECK(o.exit_code == 3);
    CHECK(o.tag.empty());
    CHECK(command_outcome(record(R"({"state":"finished","exit_code":256})")).exit_code == 255);
    CHECK(command_outcome(record(R"({"state":"finished","exit_code":-1})")).exit_code == 255);
}

TEST_CASE("command records: outcome of a signal", "[cli][record]") {
    CHECK(command_outcome(record(R"({"state":"finished","exit_code":null,"signal":"KILL"})")).exit_code == 137);
    CHECK(command_outcome(record(R"({"state":"finished","signal":"SIGINT"})")).exit_code == 130);
    const CommandRecord numeric = record(R"({"state":"finished","signal":15})");
    CHECK(numeric.signal == "TERM");
    CHECK(command_outcome(numeric).exit_code == 143);
    CHECK(command_outcome(record(R"({"state":"finished","signal":"WEIRD"})")).exit_code == 255);
}

TEST_CASE("command records: a command killed by its time limit says so", "[cli][record]") {
    const CommandOutcome wall = command_outcome(record(
        R"({"state":"finished","signal":"KILL","error":{"tag":"timeout","message":"timeout"}})"));
    CHECK(wall.exit_code == 137);
    CHECK(wall.tag == "timeout");
    CHECK(wall.message == "stopped: it ran longer than its timeout (SIGKILL)");
    const CommandOutcome quiet = command_outcome(record(
        R"({"state":"finished","signal":"KILL","error":{"tag":"timeout","message":"no-output-timeout"}})"));
    CHECK(quiet.exit_code == 137);
    CHECK(quiet.message == "stopped: no output for longer than its no-output timeout (SIGKILL)");
    // A command that exited on its own as it was being stopped keeps its exit code.
    const CommandOutcome exited = command_outcome(record(
        R"({"state":"finished","exit_code":3,"error":{"tag":"timeout","message":"timeout"}})"));
    CHECK(exited.exit_code == 3);
    CHECK(exited.tag == "timeout");
    CHECK(exited.message == "stopped: it ran longer than its timeout");
    CHECK(command_outcome(record(R"({"state":"finished","exit_code":0})")).tag.empty());
}

TEST_CASE("command records: failed lost and cancelled", "[cli][record]") {
    const CommandOutcome exec = command_outcome(record(
        R"({"state":"failed","error":{"tag":"exec-failed","message":"no such file: nope"}})"));
    CHECK(exec.exit_code == 127);
    CHECK(exec.tag == "exec-failed");
    CHECK(exec.message == "no such file: nope");
    const CommandOutcome other = command_outcome(
        record(R"({"state":"failed","error":{"tag":"cwd-missing","message":"x"}})"));
    CHECK(other.exit_code == 255);
    CHECK(other.tag == "cwd-missing");
    CHECK(command_outcome(record(R"({"state":"lost"})")).exit_code == 255);
    CHECK(command_outcome(record(R"({"state":"lost"})")).tag == "lost");
    CHECK(command_outcome(record(R"({"state":"cancelled"})")).tag == "cancelled");
    CHECK(command_outcome(record(R"({"state":"whatever"})")).exit_code == 255);
}

TEST_CASE("command records: the EXIT column", "[cli][record]") {
    CHECK(exit_column(record(R"({"exit_code":2})")) == "2");
    CHECK(exit_column(record(R"({"exit_code":null,"signal":"KILL"})")) == "KILL");
    CHECK(exit_column(record(R"({"signal":"KILL","error":{"tag":"timeout","message":"timeout"}})")) ==
          "KILL(timeout)");
    CHECK(exit_column(record(R"({"state":"running"})")) == "-");
}

TEST_CASE("command records: the listing", "[cli][record]") {
    const UtcZone utc;
    const auto list = parse_command_list(boost::json::parse(
        R"({"commands":[
             {"id":7,"agent":"a1","state":"finished","exit_code":0,"started_ms":1764147600000,
              "command":["make","-j2"]},
             {"id":12,"agent":"build-box","state":"running","started_ms":1764147661000,
              "command":["sh","-c","echo hi; sleep 9"]}]})"));
    REQUIRE(list.size() == 2);
    CHECK(format_command_table(list) ==
          "ID  AGENT      STATE     EXIT  STARTED              COMMAND\n"
          "7   a1         finished  0     2025-11-26 09:00:00  make -j2\n"
          "12  build-box  running   -     2025-11-26 09:01:01  sh -c 'echo hi; sleep 9'\n");
    CHECK(parse_command_list(boost::json::parse("{}")).empty());
}
