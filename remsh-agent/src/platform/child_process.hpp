// ChildProcess: the platform interface the agent's portable core uses to run a process
// (docs/protocol.md 9.5). POSIX implementation: remsh-agent/src/posix/; Windows: windows/.
//
// All I/O is asynchronous on the agent's Asio executor (C++20 coroutines). Reads return
// what the pipe has, so output stays live; the core stops calling read() when it has no
// credit, which blocks the child (back-pressure) instead of buffering.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace remsh::agent {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::string cwd;                // absolute; must exist
  std::map<std::string, std::optional<std::string>> env;  // set (value) or unset (nullopt)
  bool env_clear = false;         // start from an empty environment instead of the agent's
  bool stdin_pipe = false;        // false: stdin is /dev/null (the NUL device)
  struct Pty {
    std::uint16_t cols = 80;
    std::uint16_t rows = 24;
    std::string term = "xterm-256color";
  };
  std::optional<Pty> pty;  // run on a pseudo-terminal: one stream (3) both ways
};

struct ProcessExit {
  bool signaled = false;
  int exit_code = 0;        // valid when !signaled
  std::string signal_name;  // "KILL", "TERM", ... when signaled (POSIX names without SIG)
  int signal_number = 0;
  std::uint64_t cpu_user_ms = 0;
  std::uint64_t cpu_system_ms = 0;
  std::uint64_t max_rss_kb = 0;
};

// Which output to read: the protocol's stream ids.
enum class OutputStream : std::uint8_t { stdout_ = 1, stderr_ = 2, tty = 3 };

// Signals the master may send (docs/protocol.md 9.2).
enum class ProcessSignal { interrupt, terminate, kill, hangup, quit, user1, user2 };

struct SpawnError {
  std::string tag;      // protocol error tag: "exec-failed" (not found, not executable, bad cwd, ...)
  std::string message;  // human text, e.g. "/nonexistent: No such file or directory"
};

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;

  virtual std::int64_t pid() const = 0;

  // Reads what is available from one output (stdout/stderr, or tty with a pty) into buf.
  // Returns 0 at end of file. Never throws for EOF or EIO on a pty whose child exited.
  virtual boost::asio::awaitable<std::size_t> read(OutputStream stream,
                                                   boost::asio::mutable_buffer buf) = 0;

  // Writes all of data to stdin (or the pty). Throws boost::system::system_error when the
  // child closed its end (EPIPE), which the caller treats as "stdin no longer wanted".
  virtual boost::asio::awaitable<void> write_input(boost::asio::const_buffer data) = 0;
  // Closes stdin (end of file for the child). With a pty: sends the EOF character (Ctrl-D).
  virtual void close_input() = 0;

  // Delivers a signal to the process group (group=true) or only the process. kill applies
  // to the whole process tree whatever `group` says.
  virtual void signal(ProcessSignal sig, bool group) = 0;
  // Kills the whole tree (SIGKILL to the group; on Windows TerminateJobObject).
  virtual void kill_tree() = 0;

  // Changes the pty size (no-op without a pty).
  virtual void resize(std::uint16_t cols, std::uint16_t rows) = 0;

  // Waits until the child has exited and returns how, with its resource usage. May be
  // awaited once.
  virtual boost::asio::awaitable<ProcessExit> wait() = 0;
};

// Whether spawn_process can give a process a pty (announced to the master: exec `pty`).
bool pty_supported();

// Starts a process. Returns the process, or fills `error` and returns nullptr.
std::unique_ptr<ChildProcess> spawn_process(boost::asio::any_io_executor executor,
                                            const ProcessSpec& spec, SpawnError& error);

}  // namespace remsh::agent
