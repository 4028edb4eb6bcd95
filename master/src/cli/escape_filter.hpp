// EscapeFilter: ssh's escape for `remsh shell` on a terminal. "~." typed at the start of a
// line (or of the session) disconnects; "~~" there sends one "~"; a "~" followed by anything
// else is sent as typed. Everything else passes through untouched.
#pragma once

#include <string>
#include <string_view>

namespace remsh::cli {

class EscapeFilter {
public:
    struct Result {
        std::string forward;      // the bytes for the remote side
        bool disconnect = false;  // "~." seen: what followed it is dropped
    };
    Result feed(std::string_view bytes);

private:
    bool at_line_start_ = true;
    bool pending_tilde_ = false;
};

}  // namespace remsh::cli
