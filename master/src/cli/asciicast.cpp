#include "asciicast.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace remsh::cli {

namespace json = boost::json;

std::optional<Cast> parse_asciicast(std::string_view text, std::string& error) {
    Cast cast;
    std::size_t line_number = 0;
    bool have_header = false;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
            continue;
        }
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        if (!have_header) {
            if (ec || !v.is_object() || !v.get_object().contains("version") ||
                v.get_object().at("version") != json::value(2)) {
                error = "not an asciicast v2 recording (its first line is not a version 2 header)";
                return std::nullopt;
            }
            cast.header = v.get_object();
            have_header = true;
            continue;
        }
        if (ec || !v.is_array() || v.get_array().size() != 3 || !v.get_array()[0].is_number() ||
            !v.get_array()[1].is_string() || !v.get_array()[2].is_string()) {
            error = "line " + std::to_string(line_number) + " is not a [time, kind, data] event";
            return std::nullopt;
        }
        const json::array& a = v.get_array();
        cast.events.push_back(CastEvent{a[0].to_number<double>(), std::string(a[1].get_string()),
                                        std::string(a[2].get_string())});
    }
    if (!have_header) {
        error = "the recording is empty";
        return std::nullopt;
    }
    return cast;
}

double replay_pause(double previous, double next, double speed, double idle_limit) {
    double pause = (next - previous) / (speed > 0 ? speed : 1.0);
    return std::clamp(pause, 0.0, idle_limit);
}

}  // namespace remsh::cli
