#include "posix/launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern char** environ;

namespace remsh::agent::posix_detail {
namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

bool fail(SpawnError& error, std::string message) {
  error.tag = "exec-failed";
  error.message = std::move(message);
  return false;
}

bool fail_errno(SpawnError& error, std::string_view what, int err) {
  return fail(error, std::string(what) + ": " + errno_text(err));
}

bool set_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

// Moves fd to a number above 2 (the copy is O_CLOEXEC too), so the child's dup2() onto
// 0, 1 and 2 can never overwrite another descriptor it still has to duplicate. Only matters
// when the agent runs with one of its standard descriptors closed.
bool move_above_stdio(UniqueFd& fd) {
  if (fd.get() > 2) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

bool make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
#if defined(__APPLE__)
  if (::pipe(fds) != 0) return false;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return set_cloexec(fds[0]) && set_cloexec(fds[1]);
#else
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return true;
#endif
}

// A fast producer (a compiler's output, `cat` of a big file) writes ahead while the agent
// compresses and sends: a larger pipe lets each read take a whole frame's worth instead of
// 64 KiB, and the per-frame costs shrink with it. Best effort: the kernel may refuse.
void enlarge_output_pipe([[maybe_unused]] int fd) {
#if defined(F_SETPIPE_SZ)
  (void)::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#endif
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

std::string default_search_path() {
#ifdef _CS_PATH
  const std::size_t n = ::confstr(_CS_PATH, nullptr, 0);
  if (n > 1) {
    std::string path(n, '\0');
    ::confstr(_CS_PATH, path.data(), n);
    path.resize(n - 1);
    return path;
  }
#endif
  return "/bin:/usr/bin";
}

// What the child does between fork() and exec: a stage and its errno travel back to the
// parent through the error pipe when a stage fails.
enum class Stage : int { setsid = 1, controlling_tty, redirect, chdir, exec };

struct ChildFailure {
  int stage = 0;
  int error = 0;
};

// Everything the child needs, allocated before fork(): the child only reads it (and writes
// one pre-allocated slot), it never allocates.
struct ChildPlan {
  std::vector<std::string> strings;  // owns the bytes argv/envp/candidates point into
  std::vector<char*> argv;           // null-terminated
  std::vector<char*> sh_argv;        // "/bin/sh", <script>, argv[1..], null: for ENOEXEC
  std::vector<char*> envp;           // null-terminated
  std::vector<char*> candidates;     // paths to try, in order
  bool search = false;               // PATH search: go on after ENOENT, EACCES, ...
  const char* cwd = nullptr;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int tty_fd = -1;  // the pty slave: becomes the controlling terminal
  int error_fd = -1;
};

[[noreturn]] void child_fail(int error_fd, Stage stage, int err) noexcept {
  const ChildFailure failure{static_cast<int>(stage), err};
  ssize_t n;
  do {
    n = ::write(error_fd, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::_exit(127);
}

bool search_goes_on(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case ESTALE:
    case ENODEV:
    case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

// Runs in the child after fork(): async-signal-safe calls only.
[[noreturn]] void run_child(ChildPlan& plan) noexcept {
  // Signal dispositions the agent ignores would survive exec, and the mask always does:
  // give the program a clean slate. All signals are blocked (by the parent, around fork)
  // until the dispositions are back to default, so no agent handler runs in the child.
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::setsid() < 0) child_fail(plan.error_fd, Stage::setsid, errno);
#ifdef __linux__
  // An agent killed outright (SIGKILL, the OOM killer) cannot end its commands, and a
  // restarted one no longer knows them: the kernel hangs the command up then, as it does a
  // command on a pty whose master went away (nohup still keeps one alive, on purpose).
  (void)::prctl(PR_SET_PDEATHSIG, SIGHUP);
#endif
  if (plan.tty_fd >= 0 && ::ioctl(plan.tty_fd, TIOCSCTTY, 0) < 0)
    child_fail(plan.error_fd, Stage::controlling_tty, errno);
  // All sources are above 2 (move_above_stdio), and dup2 clears FD_CLOEXEC on the copy.
  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 ||
      ::dup2(plan.stderr_fd, 2) < 0)
    child_fail(plan.error_fd, Stage::redirect, errno);
  if (plan.cwd != nullptr && ::chdir(plan.cwd) < 0) child_fail(plan.error_fd, Stage::chdir, errno);

  // execvpe semantics, against the child's own environment.
  int err = ENOENT;
  bool saw_eacces = false;
  for (char* path : plan.candidates) {
    ::execve(path, plan.argv.data(), plan.envp.data());
    err = errno;
    if (err == ENOEXEC) {  // no #! line: a shell script, as execvp runs it
      plan.sh_argv[1] = path;
      ::execve(plan.sh_argv[0], plan.sh_argv.data(), plan.envp.data());
      err = errno;
    }
    if (!plan.search || !search_goes_on(err)) break;
    if (err == EACCES) saw_eacces = true;
  }
  if (plan.search && saw_eacces && search_goes_on(err)) err = EACCES;
  child_fail(plan.error_fd, Stage::exec, err);
}

// Blocks every signal in this thread for the lifetime of the object.
class BlockAllSignals {
 public:
  BlockAllSignals() {
    sigset_t all;
    sigfillset(&all);
    (void)::pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~BlockAllSignals() { (void)::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockAllSignals(const BlockAllSignals&) = delete;
  BlockAllSignals& operator=(const BlockAllSignals&) = delete;

 private:
  sigset_t old_;
};

bool open_pty(const ProcessSpec::Pty& size, UniqueFd& master, UniqueFd& slave, SpawnError& error) {
  int flags = O_RDWR | O_NOCTTY;
#if defined(__linux__)
  flags |= O_CLOEXEC;  // glibc passes the flags to open("/dev/ptmx")
#endif
  master.reset(::posix_openpt(flags));
  if (!master) return fail_errno(error, "posix_openpt", errno);
  if (!set_cloexec(master.get())) return fail_errno(error, "pty", errno);
  if (::grantpt(master.get()) != 0) return fail_errno(error, "grantpt", errno);
  if (::unlockpt(master.get()) != 0) return fail_errno(error, "unlockpt", errno);
#if defined(__linux__)
  char name_buffer[256];
  if (const int err = ::ptsname_r(master.get(), name_buffer, sizeof name_buffer); err != 0)
    return fail_errno(error, "ptsname", err);
  const char* name = name_buffer;
#else
  const char* name = ::ptsname(master.get());
  if (name == nullptr) return fail_errno(error, "ptsname", errno);
#endif
  struct winsize ws;
  std::memset(&ws, 0, sizeof ws);
  ws.ws_row = size.rows;
  ws.ws_col = size.cols;
  if (::ioctl(master.get(), TIOCSWINSZ, &ws) != 0) return fail_errno(error, "TIOCSWINSZ", errno);
  slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return fail_errno(error, name, errno);
#ifdef IUTF8
  struct termios modes;
  if (::tcgetattr(slave.get(), &modes) == 0) {
    modes.c_iflag |= IUTF8;  // line editing (erase) knows UTF-8 characters
    (void)::tcsetattr(slave.get(), TCSANOW, &modes);
  }
#endif
  return true;
}

}  // namespace

bool launch(const ProcessSpec& spec, LaunchedChild& out, SpawnError& error) {
  if (spec.argv.empty() || spec.argv[0].empty()) return fail(error, "empty argv");
  for (const auto& arg : spec.argv)
    if (has_nul(arg)) return fail(error, "an argument contains a NUL byte");
  if (has_nul(spec.cwd)) return fail(error, "cwd contains a NUL byte");

  // The environment: the agent's (unless env_clear), TERM for a pty, then the spec's
  // sets and unsets (an explicit TERM in spec.env wins over pty.term).
  std::map<std::string, std::string> env;
  if (!spec.env_clear) {
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view kv(*entry);
      const auto eq = kv.find('=');
      if (eq == std::string_view::npos || eq == 0) continue;
      env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
  }
  if (spec.pty) env["TERM"] = spec.pty->term;
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || has_nul(name))
      return fail(error, "bad environment variable name");
    if (value) {
      if (has_nul(*value)) return fail(error, "environment variable " + name + " contains a NUL byte");
      env[name] = *value;
    } else {
      env.erase(name);
    }
  }

  ChildPlan plan;
  const std::string& program = spec.argv[0];
  std::vector<std::string> candidates;
  if (program.find('/') != std::string::npos) {
    candidates.push_back(program);
  } else {
    plan.search = true;
    const auto path_it = env.find("PATH");
    const std::string path = path_it != env.end() ? path_it->second : default_search_path();
    std::size_t begin = 0;
    for (;;) {
      const std::size_t end = std::min(path.find(':', begin), path.size());
      const std::string dir = path.substr(begin, end - begin);
      // An empty element is the current directory (the child's cwd), as for execvp.
      candidates.push_back(dir.empty() ? program : dir + (dir.back() == '/' ? "" : "/") + program);
      if (end == path.size()) break;
      begin = end + 1;
    }
  }

  // Own every string, then take pointers (no reallocation after this point).
  plan.strings.reserve(spec.argv.size() + env.size() + candidates.size() + 2);
  for (const auto& arg : spec.argv) plan.strings.push_back(arg);
  const std::size_t env_begin = plan.strings.size();
  for (const auto& [name, value] : env) plan.strings.push_back(name + "=" + value);
  const std::size_t candidates_begin = plan.strings.size();
  for (auto& candidate : candidates) plan.strings.push_back(std::move(candidate));
  plan.strings.push_back("/bin/sh");
  const std::size_t sh_index = plan.strings.size() - 1;
  if (!spec.cwd.empty()) {
    plan.strings.push_back(spec.cwd);
    plan.cwd = plan.strings.back().c_str();
  }
  for (std::size_t i = 0; i < env_begin; ++i) plan.argv.push_back(plan.strings[i].data());
  plan.argv.push_back(nullptr);
  for (std::size_t i = env_begin; i < candidates_begin; ++i) plan.envp.push_back(plan.strings[i].data());
  plan.envp.push_back(nullptr);
  for (std::size_t i = candidates_begin; i < sh_index; ++i) plan.candidates.push_back(plan.strings[i].data());
  plan.sh_argv.push_back(plan.strings[sh_index].data());
  plan.sh_argv.push_back(nullptr);  // the script: filled in by the child
  for (std::size_t i = 1; i < env_begin; ++i) plan.sh_argv.push_back(plan.strings[i].data());
  plan.sh_argv.push_back(nullptr);

  // Descriptors. The parent's ends stay in `out`; the child's ends close when this returns.
  UniqueFd child_stdin, child_stdout, child_stderr, pty_slave;
  if (spec.pty) {
    if (!open_pty(*spec.pty, out.pty_master, pty_slave, error)) return false;
    if (!move_above_stdio(pty_slave)) return fail_errno(error, "fcntl", errno);
    plan.stdin_fd = plan.stdout_fd = plan.stderr_fd = plan.tty_fd = pty_slave.get();
  } else {
    if (spec.stdin_pipe) {
      if (!make_pipe(child_stdin, out.stdin_write)) return fail_errno(error, "pipe", errno);
    } else {
      child_stdin.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!child_stdin) return fail_errno(error, "/dev/null", errno);
    }
    if (!make_pipe(out.stdout_read, child_stdout)) return fail_errno(error, "pipe", errno);
    if (!make_pipe(out.stderr_read, child_stderr)) return fail_errno(error, "pipe", errno);
    enlarge_output_pipe(out.stdout_read.get());
    enlarge_output_pipe(out.stderr_read.get());
    if (!move_above_stdio(child_stdin) || !move_above_stdio(child_stdout) ||
        !move_above_stdio(child_stderr))
      return fail_errno(error, "fcntl", errno);
    plan.stdin_fd = child_stdin.get();
    plan.stdout_fd = child_stdout.get();
    plan.stderr_fd = child_stderr.get();
  }
  UniqueFd error_read, error_write;
  if (!make_pipe(error_read, error_write) || !move_above_stdio(error_write))
    return fail_errno(error, "pipe", errno);
  plan.error_fd = error_write.get();

  pid_t pid;
  int fork_errno;
  {
    const BlockAllSignals blocked;
    // vfork, not fork: the child borrows the agent's memory until exec instead of copying
    // its page tables (a fork cost ~2 ms and growing with the agent's RSS, and left every
    // page copy-on-write for the agent afterwards). run_child is written for that: it only
    // makes system calls on memory prepared here and ends in exec or _exit, and its signal
    // dispositions are its own (no CLONE_SIGHAND). The agent waits meanwhile, as it would
    // for the exec-error pipe anyway.
    pid = ::vfork();
    if (pid == 0) run_child(plan);
    fork_errno = errno;
  }
  if (pid < 0) return fail_errno(error, "fork", fork_errno);

  // Close the child's ends here, or EOF never comes.
  error_write.reset();
  child_stdin.reset();
  child_stdout.reset();
  child_stderr.reset();
  pty_slave.reset();

  // The error pipe closes on a successful exec (O_CLOEXEC) with nothing written.
  ChildFailure failure;
  std::size_t got = 0;
  while (got < sizeof failure) {
    const ssize_t n = ::read(error_read.get(), reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got == 0) {
    out.pid = pid;
    return true;
  }

  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  out = LaunchedChild{};
  if (got != sizeof failure) return fail(error, program + ": the child failed before exec");
  switch (static_cast<Stage>(failure.stage)) {
    case Stage::exec:
      return fail_errno(error, program, failure.error);
    case Stage::chdir:
      return fail_errno(error, "cwd " + spec.cwd, failure.error);
    case Stage::setsid:
      return fail_errno(error, "setsid", failure.error);
    case Stage::controlling_tty:
      return fail_errno(error, "controlling terminal", failure.error);
    case Stage::redirect:
      return fail_errno(error, "dup2", failure.error);
  }
  return fail_errno(error, program, failure.error);
}

std::string signal_name(int signal_number) {
  switch (signal_number) {
    case SIGHUP: return "HUP";
    case SIGINT: return "INT";
    case SIGQUIT: return "QUIT";
    case SIGILL: return "ILL";
    case SIGTRAP: return "TRAP";
    case SIGABRT: return "ABRT";
    case SIGBUS: return "BUS";
    case SIGFPE: return "FPE";
    case SIGKILL: return "KILL";
    case SIGUSR1: return "USR1";
    case SIGSEGV: return "SEGV";
    case SIGUSR2: return "USR2";
    case SIGPIPE: return "PIPE";
    case SIGALRM: return "ALRM";
    case SIGTERM: return "TERM";
    case SIGCHLD: return "CHLD";
    case SIGCONT: return "CONT";
    case SIGSTOP: return "STOP";
    case SIGTSTP: return "TSTP";
    case SIGTTIN: return "TTIN";
    case SIGTTOU: return "TTOU";
    case SIGURG: return "URG";
    case SIGXCPU: return "XCPU";
    case SIGXFSZ: return "XFSZ";
    case SIGVTALRM: return "VTALRM";
    case SIGPROF: return "PROF";
    case SIGWINCH: return "WINCH";
    case SIGSYS: return "SYS";
#ifdef SIGSTKFLT
    case SIGSTKFLT: return "STKFLT";
#endif
#if defined(SIGIO)
    case SIGIO: return "IO";
#endif
#if defined(SIGPWR) && (!defined(SIGINFO) || SIGPWR != SIGINFO)
    case SIGPWR: return "PWR";
#endif
    default: return std::to_string(signal_number);
  }
}

}  // namespace remsh::agent::posix_detail
