#include "sync_plan.hpp"

#include <cassert>

#include <unordered_map>

namespace remsh::cli {

SyncPlan plan_sync(const std::vector<ManifestEntry>& local, const std::vector<ManifestEntry>& remote,
                   bool delete_extra, const std::function<std::string(std::size_t)>& local_sha256) {
    std::unordered_map<std::string, const ManifestEntry*> remote_by_path;
    for (const auto& r : remote) {
        remote_by_path.emplace(r.path, &r);
    }
    SyncPlan plan;
    for (std::size_t i = 0; i < local.size(); ++i) {
        const ManifestEntry& l = local[i];
        auto it = remote_by_path.find(l.path);
        const ManifestEntry* r = it == remote_by_path.end() ? nullptr : it->second;
        bool differs = !r || r->type != l.type;
        if (!differs && l.type == "symlink") {
            differs = r->target != l.target;
        } else if (!differs && l.type == "directory") {
            differs = r->mode != l.mode;
        } else if (!differs && l.type == "file") {
            differs = r->size != l.size || r->mode != l.mode;
            if (!differs) {
                ++plan.hashed;
                differs = local_sha256(i) != r->sha256;
            }
        }
        if (differs && r && r->type == "directory") {
            plan.replace.push_back(l.path);
        }
        if (differs) {
            plan.send.push_back(i);
            if (l.type == "file") {
                plan.bytes += l.size;
            }
        }
    }
    if (delete_extra) {
        std::unordered_map<std::string, const ManifestEntry*> local_paths;
        for (const auto& l : local) {
            local_paths.emplace(l.path, &l);
        }
        // The manifest lists a directory before its contents: once a directory is removed, its
        // contents go with it.
        std::string removed_prefix;
        for (const auto& r : remote) {
            if (!removed_prefix.empty() && r.path.compare(0, removed_prefix.size(), removed_prefix) == 0) {
                continue;
            }
            // An entry names something below the target; an empty name would be the target itself.
            assert(!r.path.empty() && "a manifest entry without a path reached the plan");
            if (r.path.empty()) continue;
            auto it = local_paths.find(r.path);
            if (it == local_paths.end()) {
                plan.remove.push_back(r.path);
                removed_prefix = r.type == "directory" ? r.path + "/" : std::string();
            } else if (r.type == "directory" && it->second->type != "directory") {
                // The upload replaces this directory (with a file or a link) and everything
                // in it; removing its contents afterwards would go through the new link.
                removed_prefix = r.path + "/";
            }
        }
    }
    return plan;
}

}  // namespace remsh::cli
