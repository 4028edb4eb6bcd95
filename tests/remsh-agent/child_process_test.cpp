// ChildProcess (remsh-agent/src/platform/child_process.hpp), POSIX implementation, with real
// processes. Every test runs its coroutine on a fresh io_context for a bounded time.
#include "platform/child_process.hpp"
#include "support/child_process_helpers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace remsh::agent;
using testing::read_all;
using testing::start;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

// Runs body(executor) to completion within `limit`, rethrowing what it threw.
template <class Body>
void run(Body body, std::chrono::seconds limit = 10s) {
  testing::run_within(limit, std::move(body));
}

ProcessSpec command(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  return spec;
}

// Reads until `needle` appears in what was read (or EOF).
asio::awaitable<std::string> read_until(ChildProcess& p, OutputStream stream, const std::string& needle) {
  std::string out;
  char buf[4096];
  while (out.find(needle) == std::string::npos) {
    const std::size_t n = co_await p.read(stream, asio::buffer(buf));
    if (n == 0) break;
    out.append(buf, n);
  }
  co_return out;
}

struct Outcome {
  std::string out;
  std::string err;
  ProcessExit exit;
};

asio::awaitable<Outcome> finish(ChildProcess& p) {
  auto [out, err, exit] =
      co_await (read_all(p, OutputStream::stdout_) && read_all(p, OutputStream::stderr_) && p.wait());
  co_return Outcome{std::move(out), std::move(err), std::move(exit)};
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

// Gone: no such process, or a zombie its new parent has not reaped yet.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return !stat.good();
  return line[paren + 2] == 'Z' || line[paren + 2] == 'X';
}

asio::awaitable<bool> eventually_gone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    if (process_gone(pid)) co_return true;
    co_await sleep_for(50ms);
  }
  co_return false;
}

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "remsh-agent-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = std::filesystem::canonical(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path write(const std::string& name, const std::string& text, mode_t mode) const {
    const auto file = path / name;
    std::ofstream(file) << text;
    REQUIRE(::chmod(file.c_str(), mode) == 0);
    return file;
  }

  std::filesystem::path path;
};

char scratch[16];  // a read buffer for reads whose bytes do not matter

std::string all_bytes(bool reversed) {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(reversed ? 255 - i : i));
  return s;
}

}  // namespace

TEST_CASE("stdout and stderr are separate and binary-safe") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"perl", "-e",
                                "binmode STDOUT; binmode STDERR; print map { chr } 0..255;"
                                " print STDERR map { chr } reverse 0..255"}));
    CHECK(p->pid() > 0);
    const Outcome r = co_await finish(*p);
    CHECK(r.out == all_bytes(false));
    CHECK(r.err == all_bytes(true));
    CHECK_FALSE(r.exit.signaled);
    CHECK(r.exit.exit_code == 0);
  });
}

TEST_CASE("exit codes 0 1 and 255 are reported") {
  for (const int code : {0, 1, 255}) {
    run([code](asio::any_io_executor ex) -> asio::awaitable<void> {
      auto p = start(ex, command({"sh", "-c", "exit " + std::to_string(code)}));
      const Outcome r = co_await finish(*p);
      CHECK_FALSE(r.exit.signaled);
      CHECK(r.exit.exit_code == code);
      // Signals after wait() are harmless: the process (group) is still ours.
      p->signal(ProcessSignal::terminate, false);
      p->kill_tree();
    });
  }
}

TEST_CASE("a process killed by SIGKILL reports signaled KILL") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"sleep", "100"}));
    p->signal(ProcessSignal::kill, false);  // kill goes to the group anyway
    const Outcome r = co_await finish(*p);
    CHECK(r.exit.signaled);
    CHECK(r.exit.signal_name == "KILL");
    CHECK(r.exit.signal_number == SIGKILL);
  });
}

TEST_CASE("interrupt and terminate end sleep with INT and TERM") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    const auto started = std::chrono::steady_clock::now();
    auto p = start(ex, command({"sleep", "100"}));
    p->signal(ProcessSignal::interrupt, false);
    const Outcome r = co_await finish(*p);
    CHECK(r.exit.signaled);
    CHECK(r.exit.signal_name == "INT");

    auto q = start(ex, command({"sleep", "100"}));
    q->signal(ProcessSignal::terminate, true);
    const Outcome s = co_await finish(*q);
    CHECK(s.exit.signaled);
    CHECK(s.exit.signal_name == "TERM");
    CHECK(std::chrono::steady_clock::now() - started < 5s);
  });
}

TEST_CASE("stdin passes through cat and close_input ends it") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = command({"cat"});
    spec.stdin_pipe = true;
    auto p = start(ex, spec);
    // 4 MiB: more than the pipes hold, so writing and reading must overlap.
    std::string input;
    for (int i = 0; input.size() < (4u << 20); ++i) input += all_bytes(i % 2 == 1);
    auto feed = [](ChildProcess& child, const std::string& data) -> asio::awaitable<std::string> {
      co_await child.write_input(asio::buffer(data));
      child.close_input();
      co_return std::string();
    };
    auto [ignored, out, err, exit] = co_await (feed(*p, input) && read_all(*p, OutputStream::stdout_) &&
                                               read_all(*p, OutputStream::stderr_) && p->wait());
    CHECK(out.size() == input.size());
    CHECK(out == input);
    CHECK(err.empty());
    CHECK(exit.exit_code == 0);
  });
}

TEST_CASE("stdin is /dev/null when not piped") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"cat"}));
    const Outcome r = co_await finish(*p);
    CHECK(r.out.empty());
    CHECK(r.exit.exit_code == 0);
    bool threw = false;
    try {
      co_await p->write_input(asio::buffer(std::string("x")));
    } catch (const boost::system::system_error&) {
      threw = true;
    }
    CHECK(threw);
  });
}

TEST_CASE("writing to a child that closed stdin throws EPIPE and the agent survives") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = command({"true"});
    spec.stdin_pipe = true;
    auto p = start(ex, spec);
    const Outcome r = co_await finish(*p);
    CHECK(r.exit.exit_code == 0);
    const std::string data(1 << 20, 'x');
    boost::system::error_code code;
    try {
      co_await p->write_input(asio::buffer(data));
    } catch (const boost::system::system_error& e) {
      code = e.code();
    }
    CHECK(code == asio::error::broken_pipe);
  });
}

TEST_CASE("environment variables are set and unset") {
  ::setenv("REMSH_TEST_UNSET", "present", 1);
  ::setenv("REMSH_TEST_KEEP", "kept", 1);
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec =
        command({"sh", "-c", "echo \"$REMSH_FOO|${REMSH_TEST_UNSET-unset}|$REMSH_TEST_KEEP\""});
    spec.env["REMSH_FOO"] = "bar baz";
    spec.env["REMSH_TEST_UNSET"] = std::nullopt;
    auto p = start(ex, spec);
    const Outcome r = co_await finish(*p);
    CHECK(r.out == "bar baz|unset|kept\n");
  });
  ::unsetenv("REMSH_TEST_UNSET");
  ::unsetenv("REMSH_TEST_KEEP");
}

TEST_CASE("env_clear starts from an empty environment and PATH falls back to the default") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = command({"env"});
    spec.env_clear = true;
    spec.env["A"] = "1";
    auto p = start(ex, spec);
    const Outcome r = co_await finish(*p);
    CHECK(r.out == "A=1\n");
    CHECK(r.exit.exit_code == 0);
  });
}

TEST_CASE("PATH lookup uses the child's PATH") {
  const TempDir dir;
  dir.write("remsh-test-prog", "#!/bin/sh\necho found \"$1\"\n", 0755);
  dir.write("remsh-test-noshebang", "echo no shebang\n", 0755);  // run by /bin/sh as execvp does
  run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    for (const std::string program : {"remsh-test-prog", "remsh-test-noshebang"}) {
      ProcessSpec spec = command({program, "arg"});
      spec.env["PATH"] = "/nonexistent-remsh:" + dir.path.string() + ":/usr/bin:/bin";
      auto p = start(ex, spec);
      const Outcome r = co_await finish(*p);
      CHECK(r.out == (program == "remsh-test-prog" ? "found arg\n" : "no shebang\n"));
      CHECK(r.exit.exit_code == 0);
    }
  });
}

TEST_CASE("cwd is the child's working directory") {
  const TempDir dir;
  run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = command({"pwd"});
    spec.cwd = dir.path.string();
    auto p = start(ex, spec);
    const Outcome r = co_await finish(*p);
    CHECK(r.out == dir.path.string() + "\n");
  });
}

TEST_CASE("a missing program is exec-failed naming the program") {
  asio::io_context io;
  for (const std::string program : {"remsh-no-such-program", "/nonexistent/remsh-prog"}) {
    SpawnError error;
    auto p = spawn_process(io.get_executor(), command({program, "x"}), error);
    CHECK_FALSE(p);
    CHECK(error.tag == "exec-failed");
    CHECK(error.message == program + ": No such file or directory");
  }
}

TEST_CASE("a program that is not executable is exec-failed with Permission denied") {
  const TempDir dir;
  const auto file = dir.write("not-executable", "#!/bin/sh\necho hi\n", 0644);
  asio::io_context io;
  SpawnError error;
  CHECK_FALSE(spawn_process(io.get_executor(), command({file.string()}), error));
  CHECK(error.tag == "exec-failed");
  CHECK(error.message == file.string() + ": Permission denied");

  // In a PATH search a later directory may still have it; if none does, EACCES wins.
  ProcessSpec spec = command({"not-executable"});
  spec.env["PATH"] = dir.path.string() + ":/nonexistent-remsh";
  error = {};
  CHECK_FALSE(spawn_process(io.get_executor(), spec, error));
  CHECK(error.message == "not-executable: Permission denied");
}

TEST_CASE("a bad cwd is exec-failed naming the directory") {
  asio::io_context io;
  ProcessSpec spec = command({"true"});
  spec.cwd = "/nonexistent-remsh-dir";
  SpawnError error;
  CHECK_FALSE(spawn_process(io.get_executor(), spec, error));
  CHECK(error.tag == "exec-failed");
  CHECK(error.message == "cwd /nonexistent-remsh-dir: No such file or directory");
}

TEST_CASE("an empty argv is exec-failed") {
  asio::io_context io;
  SpawnError error;
  CHECK_FALSE(spawn_process(io.get_executor(), command({}), error));
  CHECK(error.tag == "exec-failed");
}

TEST_CASE("kill_tree kills a grandchild that ignores SIGTERM") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"sh", "-c", "trap '' TERM; sleep 100 & echo $!; echo more; wait"}));
    const std::string head = co_await read_until(*p, OutputStream::stdout_, "more\n");
    const pid_t grandchild = std::stoi(head);
    REQUIRE(grandchild > 0);

    p->signal(ProcessSignal::terminate, true);  // ignored by both
    co_await sleep_for(100ms);
    CHECK(::kill(static_cast<pid_t>(p->pid()), 0) == 0);
    CHECK(::kill(grandchild, 0) == 0);

    p->kill_tree();
    const Outcome r = co_await finish(*p);  // reads after the kill: EOF
    CHECK(r.out.empty());
    CHECK(r.exit.signaled);
    CHECK(r.exit.signal_name == "KILL");
    CHECK(co_await eventually_gone(grandchild));
  });
}

TEST_CASE("destroying a child that was not waited kills its group and reaps it") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"sh", "-c", "sleep 100 & echo $!; wait"}));
    const std::string head = co_await read_until(*p, OutputStream::stdout_, "\n");
    const pid_t grandchild = std::stoi(head);
    const auto pid = static_cast<pid_t>(p->pid());
    p.reset();
    errno = 0;
    CHECK(::kill(pid, 0) == -1);  // reaped: no zombie left
    CHECK(errno == ESRCH);
    CHECK(co_await eventually_gone(grandchild));
  });
}

TEST_CASE("destroying a child while reads and wait are pending aborts them") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"sleep", "100"}));
    auto destroy = [](std::unique_ptr<ChildProcess>& child) -> asio::awaitable<void> {
      co_await sleep_for(50ms);
      child.reset();
    };
    auto expect_abort = [](asio::awaitable<ProcessExit> op) -> asio::awaitable<void> {
      bool aborted = false;
      try {
        co_await std::move(op);
      } catch (const boost::system::system_error& e) {
        aborted = e.code() == asio::error::operation_aborted;
      }
      CHECK(aborted);
    };
    auto read_ends = [](asio::awaitable<std::size_t> op) -> asio::awaitable<void> {
      try {
        co_await std::move(op);
      } catch (const boost::system::system_error&) {
      }
    };
    co_await (destroy(p) && expect_abort(p->wait()) && read_ends(p->read(OutputStream::stdout_, asio::buffer(scratch))));
  });
}

TEST_CASE("wait works when the process exited long before") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"sh", "-c", "exit 7"}));
    co_await sleep_for(200ms);
    const Outcome r = co_await finish(*p);
    CHECK(r.exit.exit_code == 7);
  });
}

TEST_CASE("pty: the child runs on a terminal with TERM set") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = command({"sh", "-c", "tty; echo \"$TERM\""});
    spec.pty = ProcessSpec::Pty{.cols = 80, .rows = 24, .term = "vt100"};
    auto p = start(ex, spec);
    CHECK(co_await p->read(OutputStream::stdout_, asio::buffer(scratch)) == 0);
    auto [out, exit] = co_await (read_all(*p, OutputStream::tty) && p->wait());
    CHECK(out.rfind("/dev/pts/", 0) == 0);
    CHECK(out.find("\r\nvt100\r\n") != std::string::npos);
    CHECK(exit.exit_code == 0);
  });
}

TEST_CASE("pty: stty size shows the size and resize changes it") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = command({"sh", "-c", "stty size; read line; stty size"});
    spec.pty = ProcessSpec::Pty{.cols = 97, .rows = 31};
    auto p = start(ex, spec);
    const std::string first = co_await read_until(*p, OutputStream::tty, "31 97\r\n");
    CHECK(first == "31 97\r\n");
    p->resize(120, 40);
    co_await p->write_input(asio::buffer(std::string("go\n")));
    auto [rest, exit] = co_await (read_all(*p, OutputStream::tty) && p->wait());
    CHECK(rest.find("40 120\r\n") != std::string::npos);
    CHECK(exit.exit_code == 0);
  });
}

TEST_CASE("pty: close_input sends end of file") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec spec = command({"cat"});
    spec.pty = ProcessSpec::Pty{};
    auto p = start(ex, spec);
    co_await p->write_input(asio::buffer(std::string("abc\n")));
    p->close_input();
    auto [out, exit] = co_await (read_all(*p, OutputStream::tty) && p->wait());
    CHECK(out == "abc\r\nabc\r\n");  // the echo, then cat's copy
    CHECK(exit.exit_code == 0);
  });
}

TEST_CASE("rusage reports the CPU time of a busy loop") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"perl", "-e", "1 while (times)[0] < 0.3"}));
    const Outcome r = co_await finish(*p);
    CHECK(r.exit.exit_code == 0);
    CHECK(r.exit.cpu_user_ms > 200);
    CHECK(r.exit.cpu_user_ms < 5000);
    CHECK(r.exit.max_rss_kb > 0);
  });
}

TEST_CASE("100 MB through stdout arrive complete") {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto p = start(ex, command({"head", "-c", "100000000", "/dev/zero"}));
    auto count = [](ChildProcess& child) -> asio::awaitable<std::uint64_t> {
      std::vector<char> buf(1 << 16);
      std::uint64_t total = 0;
      bool zeros = true;
      for (;;) {
        const std::size_t n = co_await child.read(OutputStream::stdout_, asio::buffer(buf));
        if (n == 0) break;
        zeros = zeros && std::all_of(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n),
                                     [](char c) { return c == 0; });
        total += n;
      }
      CHECK(zeros);
      co_return total;
    };
    auto [total, exit] = co_await (count(*p) && p->wait());
    CHECK(total == 100000000u);
    CHECK(exit.exit_code == 0);
  });
}

#ifdef __linux__
TEST_CASE("the child inherits no descriptor of the agent") {
  // Descriptors this test process got without close-on-exec from whoever started it are
  // not the agent's doing; everything spawn_process opened must stay out of the child.
  std::set<int> inherited;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    const int flags = ::fcntl(fd, F_GETFD);
    if (fd > 2 && flags >= 0 && (flags & FD_CLOEXEC) == 0) inherited.insert(fd);
  }
  run([&inherited](asio::any_io_executor ex) -> asio::awaitable<void> {
    ProcessSpec piped = command({"sleep", "100"});
    piped.stdin_pipe = true;
    auto other = start(ex, piped);
    ProcessSpec on_pty = command({"sleep", "100"});
    on_pty.pty = ProcessSpec::Pty{};
    auto other_pty = start(ex, on_pty);
    auto p = start(ex, command({"sh", "-c",
                                "i=3; while [ $i -lt 1024 ]; do"
                                " [ -e /proc/self/fd/$i ] && printf '%s ' $i; i=$((i+1)); done; echo"}));
    const Outcome r = co_await finish(*p);
    std::istringstream fds(r.out);
    int fd;
    while (fds >> fd) {
      INFO("fd " << fd);
      CHECK(inherited.count(fd) == 1);
    }
  });
}
#endif
