// The command line and environment block CreateProcessW gets (windows/command_line.hpp):
// arguments must come back unchanged through CommandLineToArgvW, the real parser.
#include "command_line.hpp"

#include <catch2/catch.hpp>

#include <windows.h>
#include <shellapi.h>

#include <string>
#include <vector>

#include "wide.hpp"

namespace {

using namespace remsh::agent::win;

// What a child's C runtime would see as its argv for `line`.
std::vector<std::wstring> parse(const std::wstring& line) {
  int n = 0;
  wchar_t** args = CommandLineToArgvW(line.c_str(), &n);
  std::vector<std::wstring> out(args, args + n);
  LocalFree(args);
  return out;
}

}  // namespace

TEST_CASE("arguments survive quoting as CommandLineToArgvW reads them", "[windows][command-line]") {
  const std::vector<std::string> argv = {
      "prog.exe", "plain", "two words", "", "tab\there", "quote\"inside", "trailing\\", "trailing space\\",
      "back\\\\slashes\\\"quote", "C:\\Program Files\\x\\", "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "%PATH%",
      "a&b|c<d>e^f"};
  const std::vector<std::wstring> parsed = parse(build_command_line(argv));
  REQUIRE(parsed.size() == argv.size());
  for (std::size_t i = 0; i < argv.size(); ++i) {
    INFO("argument " << i << ": " << argv[i]);
    CHECK(narrow(parsed[i]) == argv[i]);
  }
}

TEST_CASE("a cmd.exe shell line is passed untouched inside one pair of quotes", "[windows][command-line]") {
  const std::wstring line = build_command_line({"C:\\windows\\system32\\cmd.exe", "/d", "/s", "/c", "echo \"a\" & exit 3"});
  CHECK(line == L"C:\\windows\\system32\\cmd.exe /d /s /c \"echo \"a\" & exit 3\"");
  // Any other argv with /c is quoted like every program's arguments.
  CHECK(build_command_line({"cmd", "/c", "echo hi& exit 3"}) == L"cmd /c \"echo hi& exit 3\"");
}

TEST_CASE("environment names are case-insensitive and the block is sorted", "[windows][environment]") {
  Environment env;
  env.set(L"Path", L"C:\\bin");
  env.set(L"PATH", L"C:\\other");  // same variable: the first spelling stays
  env.set(L"zeta", L"1");
  env.set(L"Alpha", L"2");
  CHECK(env.get(L"path") == std::optional<std::wstring>(L"C:\\other"));
  env.unset(L"ZETA");
  CHECK_FALSE(env.get(L"zeta"));
  const std::wstring block = env.block();
  CHECK(block == std::wstring(L"Alpha=2\0Path=C:\\other\0\0", 23));
  Environment empty;
  CHECK(empty.block() == std::wstring(L"\0\0", 2));
  Environment parsed;
  parsed.parse_block(block.c_str());
  CHECK(parsed.get(L"ALPHA") == std::optional<std::wstring>(L"2"));
}
