#include "daemon/checkout_plan.hpp"

#include <algorithm>
#include <set>

namespace remsh::master {

namespace {

bool matches(const WantedFile& w, const HeldEntry& h) {
  switch (w.kind) {
    case WantedFile::Kind::symlink: return h.type == "symlink" && h.target == w.target;
    case WantedFile::Kind::executable: return h.type == "file" && h.sha256 == w.sha256 && (h.mode & 0100) != 0;
    case WantedFile::Kind::file: return h.type == "file" && h.sha256 == w.sha256 && (h.mode & 0100) == 0;
  }
  return false;
}

// "a/b/c" -> "a", "a/b"
std::vector<std::string> ancestors(const std::string& path) {
  std::vector<std::string> out;
  for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    out.push_back(path.substr(0, slash));
  }
  return out;
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

}  // namespace

CheckoutPlan plan_checkout(const std::vector<WantedFile>& wanted, const std::map<std::string, HeldEntry>& held,
                           const std::vector<std::string>& previous, const std::string& method) {
  std::set<std::string> files, directories;
  for (const WantedFile& w : wanted) {
    files.insert(w.path);
    for (std::string& a : ancestors(w.path)) directories.insert(std::move(a));
  }
  std::set<std::string> remove;
  // What stands where the tree needs something else: a directory where a file goes, a file
  // or symlink where a directory goes.
  for (const auto& [path, entry] : held) {
    if (files.count(path) && entry.type == "directory") remove.insert(path);
    if (directories.count(path) && entry.type != "directory") remove.insert(path);
  }
  if (method == "clean") {
    for (const auto& [path, entry] : held) {
      if (!files.count(path) && !directories.count(path)) remove.insert(path);
    }
  } else {
    for (const std::string& path : previous) {
      if (!files.count(path) && !directories.count(path) && held.count(path)) remove.insert(path);
    }
  }
  // A directory the tree no longer has, left holding nothing but what is removed anyway,
  // goes too (as git leaves no empty directory behind). Deepest first, so that emptied
  // parents follow their children.
  std::vector<std::string> dirs;
  for (const auto& [path, entry] : held) {
    if (entry.type == "directory" && !directories.count(path) && !remove.count(path)) dirs.push_back(path);
  }
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  for (const std::string& dir : dirs) {
    bool emptied = true, any = false;
    for (auto it = held.lower_bound(dir + "/"); it != held.end() && under(it->first, dir); ++it) {
      any = true;
      if (!remove.count(it->first)) {
        emptied = false;
        break;
      }
    }
    if (any && emptied) remove.insert(dir);
  }
  CheckoutPlan plan;
  // Topmost only: removing a directory removes what is in it. (A set iterates in bytewise
  // order, so a directory comes before what is under it.)
  for (const std::string& path : remove) {
    if (!plan.remove.empty() && under(path, plan.remove.back())) continue;
    if (std::any_of(plan.remove.begin(), plan.remove.end(), [&](const std::string& r) { return under(path, r); })) continue;
    plan.remove.push_back(path);
  }
  const auto removed = [&](const std::string& path) {
    return std::any_of(plan.remove.begin(), plan.remove.end(),
                       [&](const std::string& r) { return r == path || under(path, r); });
  };
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const auto it = held.find(wanted[i].path);
    if (it == held.end() || removed(wanted[i].path) || !matches(wanted[i], it->second)) plan.send.push_back(i);
  }
  return plan;
}

}  // namespace remsh::master
