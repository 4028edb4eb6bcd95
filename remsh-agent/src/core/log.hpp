// The agent's log: one line per event on stderr, prefixed with a UTC timestamp, e.g.
//   2024-05-01T12:00:03.250Z connected to master.example:4433
// Tests may redirect lines elsewhere (or silence them) with set_log_sink().
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace remsh::agent {

void log_line(std::string_view message);
// The current UTC time as log lines show it ("2024-05-01T12:00:03.250Z").
std::string log_timestamp();

// Replaces where lines go (the timestamp is added before); nullptr restores stderr.
void set_log_sink(std::function<void(const std::string& line)> sink);

}  // namespace remsh::agent
