#include "file_spec.hpp"

namespace remsh::cli {

FileSpec parse_file_spec(std::string_view text) {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && colon > 0 && text.substr(0, colon).find('/') == std::string_view::npos) {
        std::string path(text.substr(colon + 1));
        if (path.empty()) {
            path.push_back('.');  // (not `= "."`: GCC 12 -O2 warns falsely, -Wrestrict)
        }
        return FileSpec{std::string(text.substr(0, colon)), std::move(path)};
    }
    return FileSpec{std::nullopt, std::string(text)};
}

std::string path_base_name(std::string_view path) {
    while (path.size() > 1 && path.back() == '/') {
        path.remove_suffix(1);
    }
    const auto slash = path.rfind('/');
    if (slash == std::string_view::npos || path.size() == 1) {
        return std::string(path);
    }
    return std::string(path.substr(slash + 1));
}

std::string path_join(std::string_view a, std::string_view b) {
    if (a.empty()) {
        return std::string(b);
    }
    std::string out(a);
    if (out.back() != '/') {
        out += '/';
    }
    out += b;
    return out;
}

}  // namespace remsh::cli
