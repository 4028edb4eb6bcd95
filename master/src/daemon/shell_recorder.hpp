// ShellRecorder: records a debug shell (`remsh shell`) in asciicast v2, the format
// `asciinema play` reads: a header line, then one JSON array per event,
//   [seconds, "o", "output text"]  what the terminal showed
//   [seconds, "i", "input text"]   what the person typed
//   [seconds, "r", "COLSxROWS"]    a window resize
// It watches the shell's command like any client (output) and is told the client's input
// and resizes by the API session. The file is private (0600): people type secrets.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "daemon/output_watcher.hpp"
#include "daemon/utf8_text.hpp"
#include "remsh/protocol/byte_buffer.hpp"
#include "storage/storage.hpp"

namespace remsh::master {

class ShellRecorder : public OutputWatcher, public std::enable_shared_from_this<ShellRecorder> {
 public:
  // Creates `file` with the header and records the session in storage. Throws
  // std::runtime_error when the file cannot be created. Events are written from `executor`
  // once the handler that produced them is done (make it with std::make_shared).
  ShellRecorder(boost::asio::any_io_executor executor, Storage& storage, const std::filesystem::path& file,
                const ShellSessionRecord& session, const std::string& term);
  ~ShellRecorder() override;

  void input(protocol::ByteView bytes);
  void resize(std::uint32_t cols, std::uint32_t rows);

  void on_started(std::int64_t) override {}
  void on_output(OutputChunk chunk, std::function<void()> done) override;
  void on_finished(const boost::json::object& record) override;
  void on_error(const std::string& tag, const std::string& message) override;

 private:
  void event(const char* kind, const std::string& text);
  void write_pending();
  void finish(std::optional<std::int64_t> exit_code);

  boost::asio::any_io_executor executor_;
  Storage& storage_;
  std::int64_t id_;
  std::ofstream out_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  Utf8Text output_text_;
  Utf8Text input_text_;
  bool finished_ = false;
  // Events not yet in the file: written after the handler that recorded them, so that the
  // client's copy of a keystroke's echo leaves before the recording's.
  std::string pending_;
  bool write_posted_ = false;
};

}  // namespace remsh::master
