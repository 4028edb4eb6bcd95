#include "daemon/checkout_step.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

#include "daemon/checkout_plan.hpp"
#include "remsh/vcs/gitmodules.hpp"
#include "remsh/protocol/tree_archive.hpp"
#include "remsh/protocol/name_field.hpp"

namespace remsh::master {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// What the git thread hands back: the commit's files, what the last checkout wrote.
struct TreeAnswer {
  std::string commit;
  std::vector<WantedFile> files;
  std::vector<std::string> previous;
  std::int64_t time_ms = 0;
  std::string error;  // "tag: message" when the mirror failed
};

// One checkout's archive, written on the git thread to a temporary file (a snapshot may be
// large; it is never held in memory).
struct ArchiveAnswer {
  std::filesystem::path path;
  std::int64_t size = 0;
  std::string error;
};

CheckoutOutcome from_call(const FsCallOutcome& o, const std::string& what) {
  const std::string state = failed_step_state(o);
  return {state, state == "failure" ? o.tag + ": " + what + ": " + o.message : o.message};
}

// The files of `commit` in `mirror` under `prefix`, with its submodules' files at their paths
// (each submodule from a mirror of its own, fetched once per checkout unless `fetch` is false,
// as for the previous commit, which only needs its paths). On the git thread.
void collect_files(VcsService& vcs, vcs::Mirror& mirror, const std::string& url, const std::string& source,
                   const std::string& commit, const std::string& prefix, int depth, bool fetch,
                   std::set<std::string>& fetched, std::vector<WantedFile>& out) {
  if (depth > 8) throw vcs::VcsError("vcs-error", "submodules nest deeper than 8 levels");
  std::vector<vcs::Submodule> modules;
  for (const vcs::TreeFile& f : mirror.files(commit)) {
    WantedFile w;
    w.path = prefix + f.path;
    w.blob_id = f.id;
    w.source = source;
    if (f.kind == vcs::TreeFile::Kind::submodule) {
      if (modules.empty()) {
        if (auto text = mirror.read_path(commit, ".gitmodules")) modules = vcs::parse_gitmodules(*text);
      }
      const auto module = std::find_if(modules.begin(), modules.end(), [&](const vcs::Submodule& m) { return m.path == f.path; });
      if (module == modules.end()) {
        throw vcs::VcsError("vcs-error", "submodule " + w.path + " has no url in .gitmodules");
      }
      const std::string sub_url = vcs::resolve_submodule_url(url, module->url);
      const std::string key = "submodule-" + sha256_hex(sub_url).substr(0, 16);
      vcs::Mirror& sub = vcs.mirror(key, sub_url);
      if (fetch && fetched.insert(key).second) sub.fetch();
      if (!sub.has_commit(f.id)) {
        if (fetch) throw vcs::VcsError("bad-ref", "submodule " + w.path + ": " + sub_url + " has no commit " + f.id);
        continue;
      }
      collect_files(vcs, sub, sub_url, key, f.id, w.path + "/", depth + 1, fetch, fetched, out);
      continue;
    }
    if (f.kind == vcs::TreeFile::Kind::symlink) {
      w.kind = WantedFile::Kind::symlink;
      w.target = mirror.read_blob(f.id);
    } else {
      w.kind = f.kind == vcs::TreeFile::Kind::executable ? WantedFile::Kind::executable : WantedFile::Kind::file;
      w.sha256 = vcs.blob_sha256(mirror, f.id);
    }
    out.push_back(std::move(w));
  }
}

std::string joined(const std::string& dir, const std::string& path) { return dir == "." ? path : dir + "/" + path; }


}  // namespace

asio::awaitable<CheckoutOutcome> run_checkout(StateDir& state, std::shared_ptr<AgentLink> link, std::int64_t job_id,
                                              std::int64_t step_index, const RecipeStep& step, const std::string& dir,
                                              FsCallTracker running) {
  Storage& db = state.storage();
  const auto repo = db.get_repo(step.repo);
  if (!repo) co_return CheckoutOutcome{"failure", "unknown-repo: no repository " + step.repo + " (remsh repo add)"};
  const auto previous = db.get_agent_checkout(link->name(), dir);
  const bool full = step.method == "clobber" || !previous || previous->repo != repo->name;
  const std::string previous_commit = full ? std::string() : previous->commit;

  // The commit and its files, on the git thread (a fetch may take a while).
  VcsService& vcs = state.vcs();
  // (Each piece of git work is a named lambda, not a temporary in the co_await: GCC 12
  // destroys such temporaries twice.)
  auto read_tree = [&vcs, repo = *repo, ref = step.ref, pinned = step.commit, previous_commit] {
    TreeAnswer t;
    try {
      vcs::Mirror& mirror = vcs.mirror(repo.name, repo.url);
      t.commit = VcsService::step_commit(mirror, ref, pinned);
      t.time_ms = mirror.commit_time_ms(t.commit);
      std::set<std::string> fetched;
      collect_files(vcs, mirror, repo.url, "", t.commit, "", 0, /*fetch=*/true, fetched, t.files);
      if (!previous_commit.empty()) {
        try {
          std::vector<WantedFile> before;
          collect_files(vcs, mirror, repo.url, "", previous_commit, "", 0, /*fetch=*/false, fetched, before);
          for (WantedFile& f : before) t.previous.push_back(std::move(f.path));
        } catch (const vcs::VcsError&) {
          // The old commit left the repository (a force push): its deletions are unknown;
          // what the manifest shows is still repaired.
        }
      }
    } catch (const vcs::VcsError& e) {
      t.error = e.tag + ": " + e.what();
    }
    return t;
  };
  const TreeAnswer tree = co_await vcs.run(std::move(read_tree));
  if (!tree.error.empty()) co_return CheckoutOutcome{"failure", tree.error};
  RepoRecord fetched = *repo;
  fetched.fetched_ms = now_ms();
  db.put_repo(fetched);


  // What the directory holds now: the agent's manifest (unless it is to be made afresh).
  std::map<std::string, HeldEntry> held;
  if (full) {
    protocol::FsRequest remove;
    remove.op = protocol::FsOp::remove;
    remove.path = dir;
    const FsCallOutcome removed = co_await run_fs_call(link, remove, {}, {}, running);
    if (!removed.ok()) co_return from_call(removed, "cannot clear " + dir);
  } else {
    protocol::FsRequest manifest;
    manifest.op = protocol::FsOp::manifest;
    manifest.path = dir;
    std::string lines;
    AgentFsCall::Sink collect = [&lines](protocol::ByteView b) { lines.append(protocol::as_chars(b)); };
    const FsCallOutcome listed = co_await run_fs_call(link, manifest, collect, {}, running);
    if (!listed.ok() && listed.tag != "not-found") co_return from_call(listed, "cannot read the manifest of " + dir);
    for (std::size_t at = 0; at < lines.size();) {
      const std::size_t end = std::min(lines.find('\n', at), lines.size());
      boost::system::error_code ec;
      const json::value v = json::parse(std::string_view(lines).substr(at, end - at), ec);
      at = end + 1;
      if (ec || !v.is_object()) continue;
      const json::object& o = v.get_object();
      const auto text = [&](const char* key) {
        const json::value* f = o.if_contains(key);
        return f && f->is_string() ? std::string(f->get_string()) : std::string();
      };
      HeldEntry e;
      e.type = text("type");
      e.sha256 = text("sha256");
      e.target = protocol::read_name(o, "target").value_or("");
      if (const json::value* m = o.if_contains("mode"); m && m->is_int64()) e.mode = static_cast<std::uint32_t>(m->get_int64());
      // Like a line that does not parse: not held (an empty name would be the directory itself).
      const std::optional<std::string> path = protocol::read_name(o, "path");
      if (!path || path->empty()) continue;
      held[*path] = std::move(e);
    }
  }
  const CheckoutPlan plan = plan_checkout(tree.files, held, tree.previous, step.method == "clean" ? "clean" : "incremental");

  for (std::size_t i = 0; i < plan.remove.size(); i += protocol::kMaxFsPaths) {
    protocol::FsRequest remove;
    remove.op = protocol::FsOp::remove;
    for (std::size_t k = i; k < std::min(plan.remove.size(), i + protocol::kMaxFsPaths); ++k) {
      remove.paths.push_back(joined(dir, plan.remove[k]));
    }
    const FsCallOutcome removed = co_await run_fs_call(link, remove, {}, {}, running);
    if (!removed.ok()) co_return from_call(removed, "cannot remove what the commit no longer has");
  }

  // The files that differ, as one archive: each with its parent directories first.
  std::vector<WantedFile> send;
  for (std::size_t i : plan.send) send.push_back(tree.files[i]);
  auto write_archive = [&vcs, repo = *repo, send, time = tree.time_ms] {
    ArchiveAnswer a;
    a.path = vcs.temp_dir() / ("checkout-" + random_hex(8) + ".rta");
    std::FILE* file = std::fopen(a.path.c_str(), "wb");
    if (!file) {
      a.error = "io-error: cannot create " + a.path.string();
      return a;
    }
    try {
      vcs::Mirror& mirror = vcs.mirror(repo.name, repo.url);
      protocol::ByteBuffer out;
      const auto flush = [&] {
        const protocol::ByteView v = out.view();
        if (std::fwrite(v.data(), 1, v.size(), file) != v.size()) throw std::runtime_error("cannot write " + a.path.string());
        a.size += static_cast<std::int64_t>(v.size());
        out.clear();
      };
      protocol::append_tree_archive_start(out);
      std::set<std::string> made;
      for (const WantedFile& w : send) {
        for (std::size_t slash = w.path.find('/'); slash != std::string::npos; slash = w.path.find('/', slash + 1)) {
          const std::string parent = w.path.substr(0, slash);
          if (!made.insert(parent).second) continue;
          protocol::append_tree_entry(out, {protocol::TreeEntryType::directory, parent, 0755, time, 0, ""});
        }
        if (w.kind == WantedFile::Kind::symlink) {
          protocol::append_tree_entry(out, {protocol::TreeEntryType::symlink, w.path, 0777, time, 0, w.target});
          continue;
        }
        vcs::Mirror* holder = w.source.empty() ? &mirror : vcs.find(w.source);
        if (!holder) throw std::runtime_error("the mirror of " + w.path + " is gone");
        const std::string content = holder->read_blob(w.blob_id);
        const std::uint32_t mode = w.kind == WantedFile::Kind::executable ? 0755 : 0644;
        protocol::append_tree_entry(out, {protocol::TreeEntryType::file, w.path, mode, time, content.size(), ""});
        out.append(content);
        if (out.size() >= (1u << 20)) flush();
      }
      protocol::append_tree_archive_end(out);
      flush();
      if (std::fclose(file) != 0) throw std::runtime_error("cannot write " + a.path.string());
      file = nullptr;
    } catch (const std::exception& e) {
      if (file) std::fclose(file);
      std::remove(a.path.c_str());
      a.error = std::string("io-error: ") + e.what();
    }
    return a;
  };
  const ArchiveAnswer archive = co_await vcs.run(std::move(write_archive));
  if (!archive.error.empty()) co_return CheckoutOutcome{"failure", archive.error};
  struct TempFile {
    std::filesystem::path path;
    ~TempFile() { std::remove(path.c_str()); }
  } temp{archive.path};

  protocol::FsRequest put;
  put.op = protocol::FsOp::put_tree;
  put.path = dir;
  put.parents = true;
  std::shared_ptr<ArtifactStore::Reader> reader;
  try {
    reader = std::make_shared<ArtifactStore::Reader>(archive.path);
  } catch (const std::exception& e) {
    co_return CheckoutOutcome{"failure", std::string("io-error: ") + e.what()};
  }
  AgentFsCall::Source pieces = [reader] { return reader->next_piece(); };
  const FsCallOutcome put_done = co_await run_fs_call(link, put, {}, pieces, running);
  if (!put_done.ok()) co_return from_call(put_done, "cannot write the snapshot into " + dir);

  JobSourceRecord source;
  source.job_id = job_id;
  source.step = step_index;
  source.repo = repo->name;
  source.ref = step.ref;
  source.commit = tree.commit;
  source.dir = dir;
  source.full = full;
  source.files_sent = static_cast<std::int64_t>(send.size());
  source.bytes_sent = archive.size;
  source.deleted = static_cast<std::int64_t>(plan.remove.size());
  db.add_job_source(source);
  db.put_agent_checkout(AgentCheckoutRecord{link->name(), dir, repo->name, tree.commit, now_ms()});
  co_return CheckoutOutcome{"success", ""};
}

}  // namespace remsh::master
