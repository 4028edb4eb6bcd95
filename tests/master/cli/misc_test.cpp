// Tables, times, the agents listing and the run request.
#include "agent_info.hpp"
#include "run_request.hpp"
#include "text_table.hpp"
#include "time_format.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

using namespace remsh::cli;

TEST_CASE("tables: aligned columns and no trailing spaces", "[cli][table]") {
    CHECK(format_table({{"A", "BB", "C"}, {"xxx", "y", ""}}) == "A    BB  C\nxxx  y\n");
    CHECK(format_table({}).empty());
    CHECK(format_table({{"\xc3\xa9t\xc3\xa9", "x"}, {"abcd", "y"}}) == "\xc3\xa9t\xc3\xa9   x\nabcd  y\n");
}

TEST_CASE("times: relative to now", "[cli][time]") {
    const std::int64_t now = 1'000'000'000;
    CHECK(relative_time(now - 3'000, now) == "3s ago");
    CHECK(relative_time(now - 500, now) == "now");
    CHECK(relative_time(now + 5'000, now) == "now");
    CHECK(relative_time(now - 120'000, now) == "2m ago");
    CHECK(relative_time(now - 7'200'000, now) == "2h ago");
    CHECK(relative_time(now - 3 * 86'400'000LL, now) == "3d ago");
    CHECK(relative_time(0, now) == "never");
    CHECK(local_time(0) == "-");
    CHECK(local_time(1764147600000).size() == 19);
}

TEST_CASE("agents: parsed and listed", "[cli][agents]") {
    const auto agents = parse_agent_list(boost::json::parse(
        R"({"agents":[{"name":"a1","state":"online","labels":["linux","x86"],"os":"Linux 6.1",
             "arch":"x86_64","version":"0.1.0","last_seen_ms":1000000,"connected_since_ms":1},
            {"name":"w2","state":"offline","labels":[],"last_seen_ms":0}]})"));
    REQUIRE(agents.size() == 2);
    CHECK(agents[0].online());
    CHECK(agents[0].has_label("x86"));
    CHECK_FALSE(agents[0].has_label("x"));
    CHECK_FALSE(agents[1].online());
    CHECK(format_agent_table(agents, 1'003'000) ==
          "NAME  STATE    LABELS     OS/ARCH           VERSION  LAST-SEEN\n"
          "a1    online   linux,x86  Linux 6.1/x86_64  0.1.0    3s ago\n"
          "w2    offline  -          -                 -        never\n");
}

TEST_CASE("run request: the JSON the master gets", "[cli][run]") {
    RunRequest r;
    r.agent = "a1";
    r.argv = {"sh", "-c", "echo hi"};
    CHECK(boost::json::parse(run_request_json(r)) ==
          boost::json::parse(R"({"agent":"a1","argv":["sh","-c","echo hi"],"stdin":true})"));
    r.cwd = "sub/dir";
    r.env = {{"K", "V"}, {"E", ""}};
    r.timeout_s = 60;
    r.pty = RunRequest::Size{120, 40};
    CHECK(boost::json::parse(run_request_json(r)) ==
          boost::json::parse(R"({"agent":"a1","argv":["sh","-c","echo hi"],"cwd":"sub/dir",
                                 "env":{"K":"V","E":""},"timeout_s":60,"stdin":true,
                                 "pty":{"cols":120,"rows":40}})"));
    RunRequest s;
    s.agent = "b";
    s.shell = "ls | wc -l";
    s.with_stdin = false;
    CHECK(boost::json::parse(run_request_json(s)) ==
          boost::json::parse(R"({"agent":"b","shell":"ls | wc -l","stdin":false})"));
}

TEST_CASE("run request: words, shell line, cwd and env must be UTF-8 text", "[cli][run]") {
    RunRequest r;
    r.agent = "a1";
    r.argv = {"ls", "caf\xC3\xA9"};
    r.cwd = "sub";
    r.env = {{"K", "\xE2\x82\xAC"}};
    CHECK_FALSE(run_request_problem(r));
    r.argv = {"ls", "caf\xE9"};
    REQUIRE(run_request_problem(r));
    CHECK(run_request_problem(r)->find("word 2 of the command") == 0);
    CHECK(run_request_problem(r)->find("--shell 'ls caf?'") != std::string::npos);
    r.interactive = true;  // remsh shell: no --shell there
    CHECK(run_request_problem(r)->find("--shell") == std::string::npos);
    r.interactive = false;
    r.argv = {"ls"};
    r.cwd = "\xFF";
    REQUIRE(run_request_problem(r));
    CHECK(run_request_problem(r)->find("--cwd") == 0);
    r.cwd.reset();
    r.env = {{"K", "\xFF"}};
    CHECK(run_request_problem(r)->find("--env K") == 0);
    r.env.clear();
    r.argv.clear();
    r.shell = "ls \xE9";
    CHECK(run_request_problem(r)->find("the shell line") == 0);
}

TEST_CASE("run request: K=V assignments", "[cli][run]") {
    CHECK(split_env_assignment("K=V") == std::pair<std::string, std::string>("K", "V"));
    CHECK(split_env_assignment("K=") == std::pair<std::string, std::string>("K", ""));
    CHECK(split_env_assignment("K=a=b") == std::pair<std::string, std::string>("K", "a=b"));
    CHECK_FALSE(split_env_assignment("K").has_value());
    CHECK_FALSE(split_env_assignment("=V").has_value());
}
