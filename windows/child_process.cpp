// The Windows ChildProcess (platform/child_process.hpp).
//
// Every child starts suspended inside its own Job Object (kill-on-close) before it runs a
// single instruction, so whatever it starts — a grandchild, a detached server — belongs to
// the job: kill_tree() is TerminateJobObject, and even the agent's own death closes the job
// and takes the tree with it. Output comes through overlapped named pipes read via IOCP
// (anonymous pipes cannot be overlapped); only the pipe ends are inherited
// (PROC_THREAD_ATTRIBUTE_HANDLE_LIST), so a child never holds another channel's pipes open.
//
// With a pty: a pseudo console (ConPTY). Its child is the agent itself in its console-shim
// role (pty_shim.hpp), which hands the console to the real command as its std handles —
// Wine's ConPTY does not do that by itself — and exits with the command's exit code.
//
// Lifetime: the handles live in a State shared with every pending coroutine, so destroying
// the ChildProcess while a read, write or wait is suspended is safe (they end with an error).
#include "platform/child_process.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/windows/object_handle.hpp>
#include <boost/asio/windows/stream_handle.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <windows.h>
#include <psapi.h>

#include <atomic>
#include <thread>
#include <utility>
#include <stdexcept>

#include "command_line.hpp"
#include "pty_shim.hpp"
#include "wide.hpp"

namespace remsh::agent {
namespace {

namespace asio = boost::asio;

// The exit code TerminateJobObject gives the tree; reported as SIGKILL, as on POSIX.
constexpr UINT kKilledExitCode = 137;

struct Handle {
  HANDLE h = nullptr;
  Handle() = default;
  explicit Handle(HANDLE handle) : h(handle == INVALID_HANDLE_VALUE ? nullptr : handle) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : h(o.release()) {}
  Handle& operator=(Handle&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Handle() { reset(); }
  HANDLE release() {
    HANDLE out = h;
    h = nullptr;
    return out;
  }
  void reset(HANDLE handle = nullptr) {
    if (h) CloseHandle(h);
    h = handle;
  }
  explicit operator bool() const { return h != nullptr; }
};

// CreatePseudoConsole and friends exist from Windows 10 1809 on: looked up at run time so
// the agent still starts (without pty) on older systems.
struct ConPtyApi {
  using Create = HRESULT(WINAPI*)(COORD, HANDLE, HANDLE, DWORD, HPCON*);
  using Resize = HRESULT(WINAPI*)(HPCON, COORD);
  using Close = void(WINAPI*)(HPCON);
  Create create = nullptr;
  Resize resize = nullptr;
  Close close = nullptr;
  static const ConPtyApi& get() {
    static const ConPtyApi api = [] {
      ConPtyApi a;
      if (HMODULE k = GetModuleHandleW(L"kernel32.dll")) {
        a.create = reinterpret_cast<Create>(reinterpret_cast<void*>(GetProcAddress(k, "CreatePseudoConsole")));
        a.resize = reinterpret_cast<Resize>(reinterpret_cast<void*>(GetProcAddress(k, "ResizePseudoConsole")));
        a.close = reinterpret_cast<Close>(reinterpret_cast<void*>(GetProcAddress(k, "ClosePseudoConsole")));
      }
      return a;
    }();
    return api;
  }
  bool available() const { return create && resize && close; }
};

bool fail(SpawnError& error, const std::string& what, DWORD code) {
  error.tag = "exec-failed";
  error.message = what + ": " + win::error_text(code);
  return false;
}

// A pipe whose agent end is overlapped (for IOCP) and whose child end is inheritable.
// `inbound`: the agent reads (the child's stdout/stderr); otherwise the agent writes (stdin).
bool make_pipe(bool inbound, Handle& agent_end, Handle& child_end, SpawnError& error) {
  static std::atomic<unsigned> counter{0};
  const std::wstring name = L"\\\\.\\pipe\\remsh-agent-" + std::to_wstring(GetCurrentProcessId()) + L"-" +
                            std::to_wstring(counter.fetch_add(1)) + L"-" + std::to_wstring(GetTickCount64());
  const DWORD direction = inbound ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND;
  agent_end = Handle(CreateNamedPipeW(name.c_str(), direction | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
                                      64 * 1024, 64 * 1024, 0, nullptr));
  if (!agent_end) return fail(error, "creating a pipe", GetLastError());
  SECURITY_ATTRIBUTES inherit{sizeof inherit, nullptr, TRUE};
  child_end = Handle(CreateFileW(name.c_str(), inbound ? GENERIC_WRITE : GENERIC_READ, 0, &inherit, OPEN_EXISTING,
                                 FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!child_end) return fail(error, "opening a pipe", GetLastError());
  return true;
}

// The environment the child gets: the agent's (or none), with the spec's changes, names
// compared case-insensitively as Windows does.
std::wstring environment_block(const ProcessSpec& spec) {
  win::Environment env = spec.env_clear ? win::Environment() : win::Environment::current();
  if (spec.env_clear) {
    // Without SystemRoot even a cleared environment breaks most programs (Winsock, cmd.exe).
    if (auto root = win::Environment::current().get(L"SystemRoot")) env.set(L"SystemRoot", *root);
  }
  for (const auto& [name, value] : spec.env) {
    if (value) {
      env.set(win::widen(name), win::widen(*value));
    } else {
      env.unset(win::widen(name));
    }
  }
  return env.block();
}

// The console's output pipe ends only when the pseudo console is closed, so it is closed as
// soon as its process exits, whether or not anybody awaits wait(). Closing may wait until
// its last output is read, which the agent's own thread does: so on another thread.
void close_pty(HPCON& pty) {
  if (!pty) return;
  std::thread([p = std::exchange(pty, nullptr)] { ConPtyApi::get().close(p); }).detach();
}

struct State {
  State(asio::any_io_executor ex)
      : stdout_pipe(ex), stderr_pipe(ex), stdin_pipe(ex), process(ex), pty_watch(ex), pty_drain(ex) {}
  asio::windows::stream_handle stdout_pipe;  // or the pty's output
  asio::windows::stream_handle stderr_pipe;
  asio::windows::stream_handle stdin_pipe;  // or the pty's input
  asio::windows::object_handle process;
  asio::windows::object_handle pty_watch;  // the process again, to close the pty at its exit
  asio::steady_timer pty_drain;            // how long the screen's last bytes may take after it
  bool pty_drained = false;                // the screen's pipe was closed by us: end of file
  Handle job;
  HPCON pty = nullptr;
  DWORD pid = 0;
  bool has_pty = false;
  bool killed = false;
  bool wait_started = false;
  bool closed = false;
};

[[noreturn]] void throw_aborted() { throw boost::system::system_error(asio::error::operation_aborted); }

asio::awaitable<std::size_t> read_output(std::shared_ptr<State> st, OutputStream stream, asio::mutable_buffer buf) {
  asio::windows::stream_handle* h = nullptr;
  if (st->has_pty) {
    if (stream == OutputStream::tty) h = &st->stdout_pipe;
  } else if (stream == OutputStream::stdout_) {
    h = &st->stdout_pipe;
  } else if (stream == OutputStream::stderr_) {
    h = &st->stderr_pipe;
  }
  if (st->closed) throw_aborted();
  if (h == nullptr || !h->is_open()) co_return 0;
  if (buf.size() == 0) throw std::invalid_argument("ChildProcess::read: empty buffer");
  boost::system::error_code ec;
  const std::size_t n = co_await h->async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_return n;
  // The writer's end closed (every process holding it ended): end of file.
  if (ec == asio::error::eof || ec == asio::error::broken_pipe || (st->has_pty && st->pty_drained) ||
      ec.value() == ERROR_BROKEN_PIPE || ec.value() == ERROR_PIPE_NOT_CONNECTED) {
    co_return 0;
  }
  throw boost::system::system_error(ec, "read");
}

asio::awaitable<void> write_stdin(std::shared_ptr<State> st, asio::const_buffer data) {
  if (st->closed) throw_aborted();
  if (!st->stdin_pipe.is_open()) {
    throw boost::system::system_error(asio::error::broken_pipe, "stdin is closed or not a pipe");
  }
  boost::system::error_code ec;
  co_await asio::async_write(st->stdin_pipe, data, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw boost::system::system_error(ec, "write to stdin");
}

std::uint64_t filetime_ms(const FILETIME& t) {
  return ((static_cast<std::uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime) / 10000;  // 100 ns units
}

asio::awaitable<ProcessExit> wait_exit(std::shared_ptr<State> st) {
  if (st->closed) throw_aborted();
  if (st->wait_started) throw std::logic_error("ChildProcess::wait() awaited twice");
  st->wait_started = true;
  boost::system::error_code ec;
  co_await st->process.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (st->closed) throw_aborted();
  if (ec) throw boost::system::system_error(ec, "waiting for the process");
  ProcessExit exit;
  HANDLE process = st->process.native_handle();
  DWORD code = 0;
  GetExitCodeProcess(process, &code);
  if (st->killed && code == kKilledExitCode) {
    exit.signaled = true;
    exit.signal_name = "KILL";
    exit.signal_number = 9;
  } else {
    exit.exit_code = static_cast<int>(code);
  }
  // The whole tree's CPU time, as POSIX rusage of the children counts it.
  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION accounting{};
  if (QueryInformationJobObject(st->job.h, JobObjectBasicAccountingInformation, &accounting, sizeof accounting, nullptr)) {
    exit.cpu_user_ms = static_cast<std::uint64_t>(accounting.TotalUserTime.QuadPart / 10000);
    exit.cpu_system_ms = static_cast<std::uint64_t>(accounting.TotalKernelTime.QuadPart / 10000);
  } else {
    FILETIME created, exited, kernel, user;
    if (GetProcessTimes(process, &created, &exited, &kernel, &user)) {
      exit.cpu_user_ms = filetime_ms(user);
      exit.cpu_system_ms = filetime_ms(kernel);
    }
  }
  PROCESS_MEMORY_COUNTERS memory{};
  if (K32GetProcessMemoryInfo(process, &memory, sizeof memory)) exit.max_rss_kb = memory.PeakWorkingSetSize / 1024;
  co_return exit;
}

class WindowsChildProcess final : public ChildProcess {
 public:
  explicit WindowsChildProcess(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~WindowsChildProcess() override {
    State& st = *state_;
    st.closed = true;
    // Closing the job kills what still runs in it (kill-on-close).
    st.job.reset();
    boost::system::error_code ignored;
    st.stdin_pipe.close(ignored);
    st.stdout_pipe.close(ignored);
    st.stderr_pipe.close(ignored);
    st.process.close(ignored);
    st.pty_watch.close(ignored);
    st.pty_drain.cancel();
    close_pty(st.pty);
  }

  std::int64_t pid() const override { return static_cast<std::int64_t>(state_->pid); }

  asio::awaitable<std::size_t> read(OutputStream stream, asio::mutable_buffer buf) override {
    return read_output(state_, stream, buf);
  }

  asio::awaitable<void> write_input(asio::const_buffer data) override { return write_stdin(state_, data); }

  void close_input() override {
    State& st = *state_;
    if (!st.has_pty) {
      boost::system::error_code ignored;
      st.stdin_pipe.close(ignored);
      return;
    }
    // A console's end of input: Ctrl-Z then Enter, what cmd.exe and the C runtime read as EOF.
    if (!st.stdin_pipe.is_open()) return;
    DWORD written = 0;
    WriteFile(st.stdin_pipe.native_handle(), "\x1a\r", 2, &written, nullptr);
  }

  void signal(ProcessSignal sig, bool group) override {
    (void)group;  // the whole tree is one job, one console process group
    if (sig == ProcessSignal::kill) return kill_tree();
    State& st = *state_;
    // Ctrl-Break reaches the child's process group when it shares the agent's console;
    // a child that has none of ours (or an agent without a console, as a service) cannot
    // be interrupted gently, and is ended instead: a signal must never be a no-op.
    if (sig == ProcessSignal::interrupt || sig == ProcessSignal::quit || sig == ProcessSignal::hangup) {
      if (st.has_pty) {
        DWORD written = 0;
        WriteFile(st.stdin_pipe.native_handle(), "\x03", 1, &written, nullptr);  // Ctrl-C typed into the console
        return;
      }
      if (GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, st.pid)) return;
    }
    kill_tree();
  }

  void kill_tree() override {
    State& st = *state_;
    if (!st.job) return;
    st.killed = true;
    TerminateJobObject(st.job.h, kKilledExitCode);
  }

  void resize(std::uint16_t cols, std::uint16_t rows) override {
    State& st = *state_;
    if (!st.pty) return;
    // E_NOTIMPL under Wine 8: the console keeps its size.
    ConPtyApi::get().resize(st.pty, COORD{static_cast<SHORT>(cols), static_cast<SHORT>(rows)});
  }

  asio::awaitable<ProcessExit> wait() override { return wait_exit(state_); }

 private:
  std::shared_ptr<State> state_;
};

// The inheritable handles and the attribute list naming them (and the pseudo console).
class StartupAttributes {
 public:
  bool init(std::vector<HANDLE> inherit, HPCON pty, SpawnError& error) {
    handles_ = std::move(inherit);
    const DWORD count = (handles_.empty() ? 0 : 1) + (pty ? 1 : 0);
    SIZE_T size = 0;
    InitializeProcThreadAttributeList(nullptr, count, 0, &size);
    storage_.resize(size);
    list_ = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage_.data());
    if (!InitializeProcThreadAttributeList(list_, count, 0, &size)) {
      list_ = nullptr;
      return fail(error, "preparing the process attributes", GetLastError());
    }
    if (!handles_.empty() &&
        !UpdateProcThreadAttribute(list_, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles_.data(),
                                   handles_.size() * sizeof(HANDLE), nullptr, nullptr)) {
      return fail(error, "naming the inherited handles", GetLastError());
    }
    if (pty && !UpdateProcThreadAttribute(list_, 0, PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, pty, sizeof(HPCON), nullptr,
                                          nullptr)) {
      return fail(error, "attaching the pseudo console", GetLastError());
    }
    return true;
  }
  ~StartupAttributes() {
    if (list_) DeleteProcThreadAttributeList(list_);
  }
  LPPROC_THREAD_ATTRIBUTE_LIST list() const { return list_; }

 private:
  std::vector<HANDLE> handles_;
  std::vector<unsigned char> storage_;
  LPPROC_THREAD_ATTRIBUTE_LIST list_ = nullptr;
};

// A child shares the agent's console when there is one (so Ctrl-Break can reach it);
// without one (a service) it gets a hidden console of its own rather than a new window.
bool agent_has_console() { return GetConsoleCP() != 0; }

Handle make_job(SpawnError& error) {
  Handle job(CreateJobObjectW(nullptr, nullptr));
  if (!job) {
    fail(error, "creating a job object", GetLastError());
    return job;
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  // Kill-on-close: the tree dies with the job handle, even when the agent itself dies.
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(job.h, JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
    fail(error, "setting up the job object", GetLastError());
    job.reset();
  }
  return job;
}

}  // namespace

std::unique_ptr<ChildProcess> spawn_process(asio::any_io_executor executor, const ProcessSpec& spec,
                                            SpawnError& error) {
  if (spec.argv.empty()) {
    error = {"exec-failed", "empty argv"};
    return nullptr;
  }
  if (spec.pty && !ConPtyApi::get().available()) {
    error = {"exec-failed", "this Windows has no pseudo console (ConPTY needs Windows 10 1809 or later)"};
    return nullptr;
  }
  auto st = std::make_shared<State>(executor);
  Handle out_agent, out_child, err_agent, err_child, in_agent, in_child;
  std::vector<HANDLE> inherit;
  std::wstring command_line;
  if (spec.pty) {
    // The pseudo console reads what the agent writes into in_child and writes the screen
    // into out_child; the agent holds the other ends.
    if (!make_pipe(true, out_agent, out_child, error) || !make_pipe(false, in_agent, in_child, error)) return nullptr;
    const COORD size{static_cast<SHORT>(spec.pty->cols), static_cast<SHORT>(spec.pty->rows)};
    const HRESULT hr = ConPtyApi::get().create(size, in_child.h, out_child.h, 0, &st->pty);
    if (FAILED(hr)) {
      error = {"exec-failed", "creating a pseudo console: " + win::error_text(static_cast<DWORD>(hr))};
      return nullptr;
    }
    st->has_pty = true;
    command_line = pty_shim_command_line(win::build_command_line(spec.argv));
  } else {
    if (!make_pipe(true, out_agent, out_child, error) || !make_pipe(true, err_agent, err_child, error)) return nullptr;
    if (spec.stdin_pipe) {
      if (!make_pipe(false, in_agent, in_child, error)) return nullptr;
    } else {
      SECURITY_ATTRIBUTES inheritable{sizeof inheritable, nullptr, TRUE};
      in_child = Handle(CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inheritable,
                                    OPEN_EXISTING, 0, nullptr));
      if (!in_child) return fail(error, "opening NUL", GetLastError()), nullptr;
    }
    inherit = {in_child.h, out_child.h, err_child.h};
    command_line = win::build_command_line(spec.argv);
  }

  StartupAttributes attributes;
  if (!attributes.init(inherit, st->pty, error)) return nullptr;
  STARTUPINFOEXW si{};
  si.StartupInfo.cb = sizeof si;
  si.lpAttributeList = attributes.list();
  if (!spec.pty) {
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = in_child.h;
    si.StartupInfo.hStdOutput = out_child.h;
    si.StartupInfo.hStdError = err_child.h;
  }
  st->job = make_job(error);
  if (!st->job) return nullptr;

  std::wstring env = environment_block(spec);
  const std::wstring cwd = win::widen(spec.cwd);
  PROCESS_INFORMATION pi{};
  // Suspended until it is in the job: nothing it starts can escape.
  const DWORD flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT |
                      CREATE_NEW_PROCESS_GROUP | (spec.pty || agent_has_console() ? 0 : CREATE_NO_WINDOW);
  if (!CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, spec.pty ? FALSE : TRUE, flags, env.data(),
                      cwd.empty() ? nullptr : cwd.c_str(), &si.StartupInfo, &pi)) {
    const DWORD code = GetLastError();
    fail(error, spec.argv[0], code);
    return nullptr;
  }
  Handle thread(pi.hThread);
  Handle process(pi.hProcess);
  if (!AssignProcessToJobObject(st->job.h, process.h)) {
    const DWORD code = GetLastError();
    TerminateProcess(process.h, kKilledExitCode);
    fail(error, "putting the process into its job object", code);
    return nullptr;
  }
  ResumeThread(thread.h);
  st->pid = pi.dwProcessId;
  // The child has its ends now: the agent's copies must go, or the pipes never reach EOF.
  out_child.reset();
  err_child.reset();
  in_child.reset();
  if (st->pty) {
    HANDLE watch = nullptr;
    DuplicateHandle(GetCurrentProcess(), process.h, GetCurrentProcess(), &watch, SYNCHRONIZE, FALSE, 0);
    if (watch) {
      st->pty_watch.assign(watch);
      st->pty_watch.async_wait([st](const boost::system::error_code& ec) {
        if (ec || st->closed) return;
        close_pty(st->pty);
        // Wine's conhost may keep the screen's pipe open after the close: what it had to
        // say is said within a moment, then the agent ends the stream itself.
        st->pty_drain.expires_after(std::chrono::milliseconds(500));
        st->pty_drain.async_wait([st](const boost::system::error_code& e) {
          if (e || st->closed) return;
          st->pty_drained = true;
          boost::system::error_code ignored;
          st->stdout_pipe.close(ignored);
        });
      });
    }
  }
  st->process.assign(process.release());
  st->stdout_pipe.assign(out_agent.release());
  if (err_agent) st->stderr_pipe.assign(err_agent.release());
  if (in_agent) st->stdin_pipe.assign(in_agent.release());
  return std::make_unique<WindowsChildProcess>(std::move(st));
}

bool pty_supported() { return ConPtyApi::get().available(); }

}  // namespace remsh::agent
