#include "daemon/vcs_service.hpp"

#include "daemon/state_dir.hpp"

namespace remsh::master {

namespace fs = std::filesystem;

VcsService::VcsService(fs::path dir) : dir_(std::move(dir)), temp_(dir_ / ".tmp") {
  std::error_code ec;
  fs::create_directories(temp_, ec);
  if (ec) throw std::runtime_error("cannot create " + temp_.string() + ": " + ec.message());
  // Archives of a checkout cut short by a crash.
  for (const auto& entry : fs::directory_iterator(temp_, ec)) fs::remove(entry.path(), ec);
}

VcsService::~VcsService() {
  pool_.stop();
  pool_.join();
}

vcs::Mirror& VcsService::mirror(const std::string& name, const std::string& url) {
  auto it = mirrors_.find(name);
  if (it == mirrors_.end()) {
    it = mirrors_.emplace(name, std::make_unique<vcs::Mirror>(dir_ / (name + ".git"), url)).first;
  }
  return *it->second;
}

vcs::Mirror* VcsService::find(const std::string& name) {
  auto it = mirrors_.find(name);
  return it == mirrors_.end() ? nullptr : it->second.get();
}

std::string VcsService::step_commit(vcs::Mirror& mirror, const std::string& ref, const std::string& pinned) {
  if (pinned.empty() || !mirror.has_commit(pinned)) mirror.fetch();
  return mirror.resolve(pinned.empty() ? ref : pinned);
}

void VcsService::remove(const std::string& name) {
  mirrors_.erase(name);
  std::error_code ec;
  fs::remove_all(dir_ / (name + ".git"), ec);
}

const std::string& VcsService::blob_sha256(vcs::Mirror& mirror, const std::string& blob_id) {
  auto it = sha256_.find(blob_id);
  if (it == sha256_.end()) it = sha256_.emplace(blob_id, sha256_hex(mirror.read_blob(blob_id))).first;
  return it->second;
}

}  // namespace remsh::master
