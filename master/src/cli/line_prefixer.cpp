#include "line_prefixer.hpp"

#include <utility>

namespace remsh::cli {

LinePrefixer::LinePrefixer(std::string prefix, std::size_t max_partial)
    : prefix_(std::move(prefix)), max_partial_(max_partial == 0 ? 1 : max_partial) {}

std::string LinePrefixer::feed(std::string_view data) {
    std::string out;
    while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
            partial_.append(data);
            if (partial_.size() >= max_partial_) {
                out += finish();
            }
            break;
        }
        out += prefix_;
        out += partial_;
        out.append(data.substr(0, nl + 1));
        partial_.clear();
        data.remove_prefix(nl + 1);
    }
    return out;
}

std::string LinePrefixer::finish() {
    if (partial_.empty()) {
        return {};
    }
    std::string out = prefix_;
    out += partial_;
    out += '\n';
    partial_.clear();
    return out;
}

}  // namespace remsh::cli
