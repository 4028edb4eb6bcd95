#include "daemon/shell_recorder.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <utility>

#include "daemon/state_dir.hpp"

namespace remsh::master {

namespace json = boost::json;

ShellRecorder::ShellRecorder(boost::asio::any_io_executor executor, Storage& storage,
                             const std::filesystem::path& file, const ShellSessionRecord& session,
                             const std::string& term)
    : executor_(std::move(executor)), storage_(storage), id_(session.command_id) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  std::filesystem::permissions(file.parent_path(), std::filesystem::perms::owner_all, ec);
  out_.open(file, std::ios::binary | std::ios::trunc);
  if (!out_) throw std::runtime_error("cannot create the recording " + file.string());
  std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  json::object header{{"version", 2},
                      {"width", session.cols},
                      {"height", session.rows},
                      {"timestamp", session.started_ms / 1000},
                      {"title", "remsh shell " + session.agent + " (opened by " + session.opened_by + ")"},
                      {"env", json::object{{"TERM", term}}}};
  out_ << json::serialize(header) << '\n';
  out_.flush();
  storage_.add_shell_session(session);
}

void ShellRecorder::event(const char* kind, const std::string& text) {
  if (text.empty() || finished_) return;
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%.6f", t);
  // json::serialize escapes the text; the time is written by hand to keep its precision fixed.
  pending_ += '[';
  pending_ += stamp;
  pending_ += ", \"";
  pending_ += kind;
  pending_ += "\", ";
  pending_ += json::serialize(json::value(text));
  pending_ += "]\n";
  if (std::exchange(write_posted_, true)) return;
  boost::asio::post(executor_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->write_pending();
  });
}

void ShellRecorder::write_pending() {
  write_posted_ = false;
  if (pending_.empty() || !out_.is_open()) return;
  out_ << pending_;
  out_.flush();  // a master killed mid-session keeps what was recorded
  pending_.clear();
}

ShellRecorder::~ShellRecorder() { write_pending(); }

void ShellRecorder::input(protocol::ByteView bytes) { event("i", input_text_.take(bytes)); }

void ShellRecorder::resize(std::uint32_t cols, std::uint32_t rows) {
  event("r", std::to_string(cols) + "x" + std::to_string(rows));
}

void ShellRecorder::on_output(OutputChunk chunk, std::function<void()> done) {
  event("o", output_text_.take(protocol::ByteView{chunk.bytes->data(), chunk.bytes->size()}));
  done();
}

void ShellRecorder::on_finished(const boost::json::object& record) {
  std::optional<std::int64_t> code;
  if (const json::value* v = record.if_contains("exit_code"); v && v->is_int64()) code = v->get_int64();
  finish(code);
}

void ShellRecorder::on_error(const std::string&, const std::string&) { finish(std::nullopt); }

void ShellRecorder::finish(std::optional<std::int64_t> exit_code) {
  if (finished_) return;
  event("o", output_text_.flush());
  finished_ = true;
  write_pending();
  out_.close();
  try {
    storage_.finish_shell_session(id_, now_ms(), exit_code);
  } catch (const StorageError& e) {
    std::cerr << "remsh-master: cannot record the end of shell session " << id_ << ": " << e.what() << std::endl;
  }
}

}  // namespace remsh::master
