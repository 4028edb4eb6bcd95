// OwnerPolicy: parsing policy.json, merging flags, and judging commands against it.
#include "core/owner_policy.hpp"

#include <catch2/catch.hpp>

#include <boost/json/serialize.hpp>

using namespace remsh::agent;
using remsh::protocol::ErrorTag;
using remsh::protocol::ExecRequest;

TEST_CASE("owner policy: defaults are confined with no shell and no limit", "[policy]") {
  const OwnerPolicy p = policy_from_json("{}");
  CHECK(p.confine);
  CHECK_FALSE(p.allow_shell);
  CHECK_FALSE(p.max_concurrent);
  CHECK(p.allow_paths.empty());
  CHECK(p.deny_env.empty());
  CHECK(boost::json::serialize(p.to_json()) ==
        R"({"confine":true,"allow_shell":false,"allow_paths":[],"deny_env":[],"max_concurrent":null})");
}

TEST_CASE("owner policy: a full file is read", "[policy]") {
  const OwnerPolicy p = policy_from_json(
      R"({"confine":false,"allow_shell":true,"max_concurrent":3,"allow_paths":["/srv/a"],"deny_env":["K"]})");
  CHECK_FALSE(p.confine);
  CHECK(p.allow_shell);
  CHECK(p.max_concurrent == std::optional<std::uint32_t>(3));
  CHECK(p.allow_paths == std::vector<std::filesystem::path>{"/srv/a"});
  CHECK(p.denies_env("K"));
  CHECK_FALSE(p.denies_env("k"));
}

TEST_CASE("owner policy: mistakes are refused with the setting named", "[policy]") {
  auto error_of = [](const char* text) -> std::string {
    try {
      policy_from_json(text);
    } catch (const PolicyError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  CHECK(error_of("[]") == "not a JSON object");
  CHECK(error_of(R"({"allow_shel":true})") == "unknown setting \"allow_shel\"");
  CHECK(error_of(R"({"allow_shell":"yes"})") == "\"allow_shell\" must be true or false");
  CHECK(error_of(R"({"max_concurrent":0})") == "\"max_concurrent\" must be an integer from 1 to 1024");
  CHECK(error_of(R"({"max_concurrent":1.5})") == "\"max_concurrent\" must be an integer from 1 to 1024");
  CHECK(error_of(R"({"allow_paths":["relative"]})") == "\"allow_paths\": relative is not an absolute path");
  CHECK(error_of(R"({"deny_env":["A=B"]})") == "\"deny_env\": A=B is not a variable name");
  CHECK(error_of(R"({"deny_env":"A"})") == "\"deny_env\" must be an array of strings");
}

TEST_CASE("owner policy: flags add to the file and keep the lower limit", "[policy]") {
  OwnerPolicy file = policy_from_json(R"({"max_concurrent":4,"deny_env":["A"],"allow_paths":["/x"]})");
  OwnerPolicy flags;
  flags.max_concurrent = 2;
  flags.deny_env = {"A", "B"};
  flags.allow_shell = true;
  file.merge(flags);
  CHECK(file.max_concurrent == std::optional<std::uint32_t>(2));
  CHECK(file.deny_env == std::vector<std::string>{"A", "B"});
  CHECK(file.allow_shell);
  CHECK(file.confine);
  OwnerPolicy higher;
  higher.max_concurrent = 9;
  file.merge(higher);
  CHECK(file.max_concurrent == std::optional<std::uint32_t>(2));
}

TEST_CASE("owner policy: commands beyond the limit or with a withheld variable are denied", "[policy]") {
  OwnerPolicy p;
  p.max_concurrent = 2;
  p.deny_env = {"SECRET"};
  ExecRequest r;
  r.argv = {"true"};
  CHECK_FALSE(check_exec_request(p, 1, r));
  // A withheld variable is unset for the command (not inherited).
  REQUIRE(r.env.count("SECRET") == 1);
  CHECK_FALSE(r.env.at("SECRET").has_value());
  auto busy = check_exec_request(p, 2, r);
  REQUIRE(busy);
  CHECK(busy->tag == ErrorTag::policy_denied);
  CHECK(busy->message == "the agent's owner allows at most 2 concurrent command(s)");
  ExecRequest asks;
  asks.argv = {"true"};
  asks.env["SECRET"] = "x";
  auto denied = check_exec_request(p, 0, asks);
  REQUIRE(denied);
  CHECK(denied->tag == ErrorTag::policy_denied);
  // Asking to unset it is fine.
  ExecRequest unsets;
  unsets.argv = {"true"};
  unsets.env["SECRET"] = std::nullopt;
  CHECK_FALSE(check_exec_request(p, 0, unsets));
}

TEST_CASE("owner policy: a debug shell needs the owner's consent", "[policy]") {
  ExecRequest shell;
  shell.interactive = true;
  OwnerPolicy closed;
  auto denied = check_exec_request(closed, 0, shell);
  REQUIRE(denied);
  CHECK(denied->tag == ErrorTag::policy_denied);
  OwnerPolicy open;
  open.allow_shell = true;
  CHECK_FALSE(check_exec_request(open, 0, shell));
}
