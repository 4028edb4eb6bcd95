// Which role each API route needs (docs/api.md, "Roles").
#include "daemon/api_roles.hpp"

#include <catch2/catch.hpp>

using namespace remsh::master;

TEST_CASE("api roles: each includes the ones below it", "[roles]") {
  CHECK(role_allows(Role::admin, Role::operator_));
  CHECK(role_allows(Role::admin, Role::viewer));
  CHECK(role_allows(Role::operator_, Role::viewer));
  CHECK_FALSE(role_allows(Role::viewer, Role::operator_));
  CHECK_FALSE(role_allows(Role::operator_, Role::admin));
  CHECK(role_from_name("operator") == Role::operator_);
  CHECK_FALSE(role_from_name("root"));
  CHECK(role_name(Role::viewer) == "viewer");
}

TEST_CASE("api roles: reads are for viewers, work for operators, the rest for admins", "[roles]") {
  CHECK(required_role("GET", "/api/v1/agents") == Role::viewer);
  CHECK(required_role("GET", "/api/v1/agents/a1") == Role::viewer);
  CHECK(required_role("GET", "/api/v1/commands/3/log") == Role::viewer);
  CHECK(required_role("GET", "/api/v1/run") == Role::operator_);
  CHECK(required_role("GET", "/api/v1/fs") == Role::operator_);
  CHECK(required_role("GET", "/api/v1/shell-sessions") == Role::operator_);
  CHECK(required_role("GET", "/api/v1/shell-sessions/4/recording") == Role::operator_);
  CHECK(required_role("POST", "/api/v1/agents/a1/drain") == Role::admin);
  CHECK(required_role("POST", "/api/v1/tokens") == Role::admin);
  CHECK(required_role("GET", "/api/v1/tokens") == Role::admin);
  CHECK(required_role("DELETE", "/api/v1/tokens/t-1") == Role::admin);
  CHECK(required_role("POST", "/api/v1/jobs") == Role::operator_);
  CHECK(required_role("POST", "/api/v1/jobs/7/cancel") == Role::operator_);
  CHECK(required_role("POST", "/api/v1/jobs/7/release") == Role::operator_);
  CHECK(required_role("GET", "/api/v1/jobs/7/artifacts/bin") == Role::viewer);
  CHECK(required_role("GET", "/api/v1/repos") == Role::viewer);
  CHECK(required_role("POST", "/api/v1/repos/core/fetch") == Role::operator_);
  CHECK(required_role("POST", "/api/v1/repos") == Role::admin);
  CHECK(required_role("DELETE", "/api/v1/repos/core") == Role::admin);
  // Secrets: even their names are for admins.
  CHECK(required_role("GET", "/api/v1/secrets") == Role::admin);
  CHECK(required_role("POST", "/api/v1/secrets/DEPLOY_KEY") == Role::admin);
  CHECK(required_role("DELETE", "/api/v1/secrets/DEPLOY_KEY") == Role::admin);
  // Unknown routes fail closed.
  CHECK(required_role("GET", "/api/v1/something-new") == Role::admin);
  CHECK(required_role("POST", "/api/v1/agents") == Role::admin);
}
