// The POSIX ChildProcess (platform/child_process.hpp): fork/exec in launch.cpp, the
// asynchronous half here.
//
// Lifetime: the descriptors live in a State shared with every pending coroutine, so
// destroying the ChildProcess while a read(), write_input() or wait() is suspended is safe:
// those complete with operation_aborted (read/write/wait throw system_error) or with what they
// already had.
//
// Reaping and pid reuse: on Linux (64-bit) wait() gets the status and rusage with
// waitid(WNOWAIT), leaving the leader a zombie until the ChildProcess is destroyed. So while
// the object lives its pid, which is also the process group id, cannot be reused, and
// signal()/kill_tree() always reach this process (group), even after wait() returned.
// Elsewhere wait() reaps with wait4(); after that, signal(..., group=false) does nothing, and
// group signals still go to -pgid: correct while a member of the group lives (the kernel does
// not reuse a pid that is some group's id), with a theoretical race once the group is empty.
#include "platform/child_process.hpp"
#include "posix/launch.hpp"
#include "posix/sigpipe.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

#if defined(__linux__) && defined(__LP64__) && defined(SYS_waitid)
#define REMSH_WAITID_RUSAGE 1  // raw waitid(2) with its fifth (rusage) argument
#endif

namespace remsh::agent {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// --- reaping -----------------------------------------------------------------------------

// Children that did not die within the destructor's bounded wait, reaped later.
std::mutex deferred_mutex;
std::vector<pid_t> deferred_pids;

bool reaped_or_gone(pid_t pid) {
  for (;;) {
    const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
    if (r == pid) return true;
    if (r == 0) return false;
    if (errno != EINTR) return true;  // ECHILD: not ours any more
  }
}

void reap_deferred() {
  const std::lock_guard lock(deferred_mutex);
  std::erase_if(deferred_pids, reaped_or_gone);
}

// Reaps pid, waiting at most about half a second (it was just sent SIGKILL or is a zombie);
// a process that takes longer (stuck in the kernel) is reaped by a later call.
void reap_bounded(pid_t pid) {
  auto delay = 50us;
  auto waited = 0us;
  while (!reaped_or_gone(pid)) {
    if (waited >= 500ms) {
      const std::lock_guard lock(deferred_mutex);
      deferred_pids.push_back(pid);
      return;
    }
    struct timespec ts{0, static_cast<long>(std::chrono::nanoseconds(delay).count())};
    ::nanosleep(&ts, nullptr);
    waited += delay;
    delay = std::min<std::chrono::microseconds>(delay * 2, 10ms);
  }
}

// --- the process ---------------------------------------------------------------------------

struct State {
  explicit State(const asio::any_io_executor& ex)
      : stdin_pipe(ex), stdout_pipe(ex), stderr_pipe(ex), pty(ex), pidfd(ex), poll_timer(ex) {}

  pid_t pid = -1;
  bool has_pty = false;
  bool closed = false;          // the ChildProcess was destroyed
  bool wait_started = false;
  bool exit_collected = false;  // wait() has the status
  bool reaped = false;          // the leader's pid is released
  asio::posix::stream_descriptor stdin_pipe;
  asio::posix::stream_descriptor stdout_pipe;
  asio::posix::stream_descriptor stderr_pipe;
  asio::posix::stream_descriptor pty;  // master side
  asio::posix::stream_descriptor pidfd;
  asio::steady_timer poll_timer;  // wait() without pidfd
};

[[noreturn]] void throw_aborted() {
  throw boost::system::system_error(asio::error::operation_aborted);
}

std::uint64_t to_ms(const struct timeval& tv) {
  return static_cast<std::uint64_t>(tv.tv_sec) * 1000u + static_cast<std::uint64_t>(tv.tv_usec) / 1000u;
}

void fill_usage(ProcessExit& exit, const struct rusage& ru) {
  exit.cpu_user_ms = to_ms(ru.ru_utime);
  exit.cpu_system_ms = to_ms(ru.ru_stime);
#if defined(__APPLE__)
  exit.max_rss_kb = static_cast<std::uint64_t>(ru.ru_maxrss) / 1024u;  // bytes there
#else
  exit.max_rss_kb = static_cast<std::uint64_t>(ru.ru_maxrss);
#endif
}

void set_signaled(ProcessExit& exit, int number) {
  exit.signaled = true;
  exit.signal_number = number;
  exit.signal_name = posix_detail::signal_name(number);
}

// The exit status if the leader has exited, without blocking.
std::optional<ProcessExit> collect(State& st) {
  struct rusage ru;
  std::memset(&ru, 0, sizeof ru);
  ProcessExit exit;
#ifdef REMSH_WAITID_RUSAGE
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  long r;
  do {
    r = ::syscall(SYS_waitid, P_PID, static_cast<id_t>(st.pid), &info, WEXITED | WNOHANG | WNOWAIT, &ru);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw std::system_error(errno, std::system_category(), "waitid");
  if (info.si_pid != st.pid) return std::nullopt;
  if (info.si_code == CLD_EXITED)
    exit.exit_code = info.si_status;
  else
    set_signaled(exit, info.si_status);
#else
  int status = 0;
  pid_t r;
  do {
    r = ::wait4(st.pid, &status, WNOHANG, &ru);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw std::system_error(errno, std::system_category(), "wait4");
  if (r == 0) return std::nullopt;
  st.reaped = true;
  if (WIFSIGNALED(status))
    set_signaled(exit, WTERMSIG(status));
  else
    exit.exit_code = WEXITSTATUS(status);
#endif
  fill_usage(exit, ru);
  st.exit_collected = true;
  return exit;
}

asio::awaitable<std::size_t> read_output(std::shared_ptr<State> st, OutputStream stream,
                                         asio::mutable_buffer buf) {
  asio::posix::stream_descriptor* d = nullptr;
  if (st->has_pty) {
    if (stream == OutputStream::tty) d = &st->pty;
  } else if (stream == OutputStream::stdout_) {
    d = &st->stdout_pipe;
  } else if (stream == OutputStream::stderr_) {
    d = &st->stderr_pipe;
  }
  if (st->closed) throw_aborted();
  if (d == nullptr || !d->is_open()) co_return 0;  // a stream this process does not have
  if (buf.size() == 0) throw std::invalid_argument("ChildProcess::read: empty buffer");
  boost::system::error_code ec;
  const std::size_t n = co_await d->async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_return n;
  if (ec == asio::error::eof) co_return 0;
  // A pty master reads EIO once no process has the slave open any more.
  if (st->has_pty && ec == boost::system::errc::io_error) co_return 0;
  throw boost::system::system_error(ec, "read");
}

asio::awaitable<void> write_stdin(std::shared_ptr<State> st, asio::const_buffer data) {
  asio::posix::stream_descriptor& d = st->has_pty ? st->pty : st->stdin_pipe;
  if (st->closed) throw_aborted();
  if (!d.is_open())
    throw boost::system::system_error(asio::error::broken_pipe, "stdin is closed or not a pipe");
  boost::system::error_code ec;
  co_await asio::async_write(d, data, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw boost::system::system_error(ec, "write to stdin");
}

asio::awaitable<ProcessExit> wait_exit(std::shared_ptr<State> st) {
  if (st->closed) throw_aborted();
  if (st->wait_started) throw std::logic_error("ChildProcess::wait() awaited twice");
  st->wait_started = true;
  if (st->pidfd.is_open()) {
    // Readable once the process has exited (it stays a zombie until collect()).
    boost::system::error_code ec;
    co_await st->pidfd.async_wait(asio::posix::descriptor_base::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (st->closed) throw_aborted();
  }
  // Without pidfd (not Linux, or a kernel before 5.3): poll, 1 ms doubling up to 100 ms.
  auto delay = 1ms;
  for (;;) {
    if (auto exit = collect(*st)) co_return *exit;
    st->poll_timer.expires_after(delay);
    boost::system::error_code ec;
    co_await st->poll_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (st->closed) throw_aborted();
    delay = std::min<std::chrono::milliseconds>(delay * 2, 100ms);
  }
}

int posix_signal(ProcessSignal sig) {
  switch (sig) {
    case ProcessSignal::interrupt: return SIGINT;
    case ProcessSignal::terminate: return SIGTERM;
    case ProcessSignal::kill: return SIGKILL;
    case ProcessSignal::hangup: return SIGHUP;
    case ProcessSignal::quit: return SIGQUIT;
    case ProcessSignal::user1: return SIGUSR1;
    case ProcessSignal::user2: return SIGUSR2;
  }
  return SIGKILL;
}

class PosixChildProcess final : public ChildProcess {
 public:
  PosixChildProcess(const asio::any_io_executor& executor, posix_detail::LaunchedChild& child)
      : state_(std::make_shared<State>(executor)) {
    State& st = *state_;
    st.pid = child.pid;
    st.has_pty = static_cast<bool>(child.pty_master);
    if (child.stdin_write) st.stdin_pipe.assign(child.stdin_write.release());
    if (child.stdout_read) st.stdout_pipe.assign(child.stdout_read.release());
    if (child.stderr_read) st.stderr_pipe.assign(child.stderr_read.release());
    if (child.pty_master) st.pty.assign(child.pty_master.release());
#if defined(__linux__) && defined(SYS_pidfd_open)
    // Always close-on-exec. Valid: the child is not reaped before collect() says so.
    const long fd = ::syscall(SYS_pidfd_open, st.pid, 0);
    if (fd >= 0) st.pidfd.assign(static_cast<int>(fd));
#endif
  }

  PosixChildProcess(const PosixChildProcess&) = delete;
  PosixChildProcess& operator=(const PosixChildProcess&) = delete;

  ~PosixChildProcess() override {
    State& st = *state_;
    st.closed = true;
    if (!st.exit_collected) (void)::kill(-st.pid, SIGKILL);
    if (!st.reaped) {
      reap_bounded(st.pid);
      st.reaped = true;
    }
    boost::system::error_code ignored;
    st.stdin_pipe.close(ignored);
    st.stdout_pipe.close(ignored);
    st.stderr_pipe.close(ignored);
    st.pty.close(ignored);
    st.pidfd.close(ignored);
    st.poll_timer.cancel();
    reap_deferred();
  }

  std::int64_t pid() const override { return state_->pid; }

  asio::awaitable<std::size_t> read(OutputStream stream, asio::mutable_buffer buf) override {
    return read_output(state_, stream, buf);
  }

  asio::awaitable<void> write_input(asio::const_buffer data) override {
    return write_stdin(state_, data);
  }

  void close_input() override {
    State& st = *state_;
    if (!st.has_pty) {
      boost::system::error_code ignored;
      st.stdin_pipe.close(ignored);
      return;
    }
    if (!st.pty.is_open()) return;
    // The terminal's EOF character (Ctrl-D unless changed): end of file for a reader in
    // canonical mode when typed at the start of a line.
    const int fd = st.pty.native_handle();
    cc_t eof = 0x04;
    struct termios modes;
    if (::tcgetattr(fd, &modes) == 0 && modes.c_cc[VEOF] != _POSIX_VDISABLE) eof = modes.c_cc[VEOF];
    while (::write(fd, &eof, 1) < 0 && errno == EINTR) {
    }
  }

  void signal(ProcessSignal sig, bool group) override {
    const State& st = *state_;
    const int number = posix_signal(sig);
    if (group || sig == ProcessSignal::kill)
      (void)::kill(-st.pid, number);
    else if (!st.reaped)
      (void)::kill(st.pid, number);
  }

  void kill_tree() override { (void)::kill(-state_->pid, SIGKILL); }

  void resize(std::uint16_t cols, std::uint16_t rows) override {
    State& st = *state_;
    if (!st.has_pty || !st.pty.is_open()) return;
    struct winsize ws;
    std::memset(&ws, 0, sizeof ws);
    ws.ws_row = rows;
    ws.ws_col = cols;
    (void)::ioctl(st.pty.native_handle(), TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH
  }

  asio::awaitable<ProcessExit> wait() override { return wait_exit(state_); }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<ChildProcess> spawn_process(asio::any_io_executor executor, const ProcessSpec& spec,
                                            SpawnError& error) {
  posix_detail::ignore_sigpipe_once();  // a child's stdin closed early is EPIPE
  reap_deferred();
  posix_detail::LaunchedChild child;
  if (!posix_detail::launch(spec, child, error)) return nullptr;
  try {
    return std::make_unique<PosixChildProcess>(executor, child);
  } catch (const std::exception& e) {
    (void)::kill(-child.pid, SIGKILL);
    reap_bounded(child.pid);
    error.tag = "exec-failed";
    error.message = std::string("registering the process's descriptors: ") + e.what();
    return nullptr;
  }
}

bool pty_supported() { return true; }

}  // namespace remsh::agent
