// An asciicast v2 recording (a shell session recorded by the master), read for
// `remsh shell-sessions replay`: the header line, then one [time, kind, data] per event.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remsh::cli {

struct CastEvent {
    double time = 0;   // seconds since the start
    std::string kind;  // "o" output, "i" input, "r" resize, ...
    std::string data;
};

struct Cast {
    boost::json::object header;  // version 2, width, height, timestamp, title, env
    std::vector<CastEvent> events;
};

// nullopt (with `error` set) when the text is not asciicast v2. Lines that are not events
// (blank ones) are skipped; a malformed event line is an error naming its line number.
std::optional<Cast> parse_asciicast(std::string_view text, std::string& error);

// The pause before an event, scaled by `speed` and capped at `idle_limit` seconds (as
// `asciinema play -i` does), never negative.
double replay_pause(double previous, double next, double speed, double idle_limit);

}  // namespace remsh::cli
