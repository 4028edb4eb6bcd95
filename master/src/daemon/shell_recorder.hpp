// ShellRecorder: records a debug shell (`remsh shell`) in asciicast v2, the format
// `asciinema play` reads: a header line, then one JSON array per event,
//   [seconds, "o", "output text"]  what the terminal showed
//   [seconds, "i", "input text"]   what the person typed
//   [seconds, "r", "COLSxROWS"]    a window resize
// It watches the shell's command like any client (output) and is told the client's input
// and resizes by the API session. The file is private (0600): people type secrets.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/output_watcher.hpp"
#include "daemon/utf8_text.hpp"
#include "remsh/protocol/byte_buffer.hpp"
#include "storage/storage.hpp"

namespace remsh::master {

class ShellRecorder : public OutputWatcher {
 public:
  // Creates `file` with the header and records the session in storage. Throws
  // std::runtime_error when the file cannot be created.
  ShellRecorder(Storage& storage, const std::filesystem::path& file, const ShellSessionRecord& session,
                const std::string& term);

  void input(protocol::ByteView bytes);
  void resize(std::uint32_t cols, std::uint32_t rows);

  void on_started(std::int64_t) override {}
  void on_output(OutputChunk chunk, std::function<void()> done) override;
  void on_finished(const boost::json::object& record) override;
  void on_error(const std::string& tag, const std::string& message) override;

 private:
  void event(const char* kind, const std::string& text);
  void finish(std::optional<std::int64_t> exit_code);

  Storage& storage_;
  std::int64_t id_;
  std::ofstream out_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  Utf8Text output_text_;
  Utf8Text input_text_;
  bool finished_ = false;
};

}  // namespace remsh::master
