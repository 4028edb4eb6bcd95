// Catch2's main for the Windows tests, which first plays the agent executable's helper roles:
// a pty's first process is this very executable started as the console shim
// (windows/pty_shim.hpp), as it is remsh-agent.exe in the real agent.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "platform/helper_role.hpp"

int run_catch(int argc, char** argv) { return Catch::Session().run(argc, argv); }

int main(int argc, char** argv) {
  if (const auto code = remsh::agent::run_helper_role(argc, argv, run_catch)) return *code;
  return run_catch(argc, argv);
}
