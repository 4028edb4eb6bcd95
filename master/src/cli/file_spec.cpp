#include "file_spec.hpp"

#include <random>

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

std::string temp_name_beside(std::string_view path) {
    const auto cut_at = path.find_last_of("/\\");
    const std::string_view dir = cut_at == std::string_view::npos ? "" : path.substr(0, cut_at + 1);
    std::string_view base = cut_at == std::string_view::npos ? path : path.substr(cut_at + 1);
    if (base.size() > 100) {
        std::size_t cut = 100;
        while (cut > 0 && (static_cast<unsigned char>(base[cut]) & 0xC0) == 0x80) {
            --cut;
        }
        base = base.substr(0, cut);
    }
    std::random_device random;
    return std::string(dir) + ".remsh-tmp-" + std::to_string(random()) + std::to_string(random()) + "-" +
           std::string(base);
}

}  // namespace remsh::cli
