#include "escape_filter.hpp"

namespace remsh::cli {

EscapeFilter::Result EscapeFilter::feed(std::string_view bytes) {
    Result r;
    r.forward.reserve(bytes.size() + 1);
    for (const char c : bytes) {
        if (pending_tilde_) {
            pending_tilde_ = false;
            if (c == '.') {
                r.disconnect = true;
                return r;
            }
            if (c == '~') {
                r.forward += '~';
                at_line_start_ = false;
                continue;
            }
            r.forward += '~';
        } else if (at_line_start_ && c == '~') {
            pending_tilde_ = true;  // decided by the next byte
            continue;
        }
        r.forward += c;
        at_line_start_ = c == '\r' || c == '\n';
    }
    return r;
}

}  // namespace remsh::cli
