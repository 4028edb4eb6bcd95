#include "core/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace remsh::agent {
namespace {

std::function<void(const std::string&)>& sink() {
  static std::function<void(const std::string&)> s;
  return s;
}

std::string utc_timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
#if defined(_WIN32)
  gmtime_s(&utc, &secs);
#else
  gmtime_r(&secs, &utc);
#endif
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

std::string log_timestamp() { return utc_timestamp(); }

void log_line(std::string_view message) {
  std::string line = utc_timestamp();
  line += ' ';
  line += message;
  if (sink()) {
    sink()(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void set_log_sink(std::function<void(const std::string& line)> s) { sink() = std::move(s); }

}  // namespace remsh::agent
