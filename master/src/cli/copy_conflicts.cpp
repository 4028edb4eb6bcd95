#include "copy_conflicts.hpp"

#include "file_spec.hpp"
#include "output_sink.hpp"

#include <unordered_map>

namespace remsh::cli {

std::string overwrite_refusal(const std::string& where, bool existing_is_directory) {
    return existing_is_directory ? "cannot overwrite directory '" + where + "' with non-directory"
                                 : "cannot overwrite non-directory '" + where + "' with directory";
}

UploadSelection select_upload(std::vector<LocalEntry> local, const std::vector<ManifestEntry>& remote,
                              const std::string& where) {
    std::unordered_map<std::string, bool> remote_is_directory;
    for (const auto& r : remote) {
        remote_is_directory.emplace(r.path, r.type == "directory");
    }
    UploadSelection out;
    std::string left_out_below;  // "x/" once x is left out: entries come in pre-order
    for (auto& l : local) {
        const std::string& path = l.entry.path;
        if (!left_out_below.empty() && path.compare(0, left_out_below.size(), left_out_below) == 0) {
            continue;
        }
        left_out_below.clear();
        const auto it = remote_is_directory.find(path);
        const bool local_is_directory = l.entry.type == protocol::TreeEntryType::directory;
        if (it != remote_is_directory.end() && it->second != local_is_directory) {
            out.refusals.push_back(overwrite_refusal(path_join(where, path), it->second));
            if (local_is_directory) {
                left_out_below = path + "/";
            }
            continue;
        }
        out.send.push_back(std::move(l));
    }
    return out;
}

void print_refusals(const std::vector<std::string>& refusals) {
    constexpr std::size_t kShown = 20;
    for (std::size_t i = 0; i < refusals.size() && i < kShown; ++i) {
        print_error("exists", refusals[i]);
    }
    if (refusals.size() > kShown) {
        print_error("exists", "and " + std::to_string(refusals.size() - kShown) + " more entries not copied");
    }
}

}  // namespace remsh::cli
