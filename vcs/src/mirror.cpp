#include "remsh/vcs/mirror.hpp"

#include <git2.h>

#include <algorithm>
#include <mutex>

namespace remsh::vcs {

namespace {

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

[[noreturn]] void fail(const std::string& tag, const std::string& what) {
  const git_error* e = git_error_last();
  throw VcsError(tag, what + (e && e->message ? std::string(": ") + e->message : std::string()));
}

void check(int rc, const std::string& what) {
  if (rc < 0) fail("vcs-error", what);
}

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p) Free(p);
  }
  T** out() { return &p; }
  T* get() const { return p; }
};

using RepoPtr = Owned<git_repository, git_repository_free>;
using RemotePtr = Owned<git_remote, git_remote_free>;
using ObjectPtr = Owned<git_object, git_object_free>;
using CommitPtr = Owned<git_commit, git_commit_free>;
using TreePtr = Owned<git_tree, git_tree_free>;
using BlobPtr = Owned<git_blob, git_blob_free>;

git_oid parse_oid(const std::string& hex) {
  git_oid oid;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, hex.c_str()) < 0) throw VcsError("bad-ref", "not a commit id: " + hex);
  return oid;
}

std::string hex_of(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

}  // namespace

struct Mirror::Repo {
  RepoPtr repo;
};

bool plausible_url(const std::string& url) {
  for (const char* scheme : {"file://", "http://", "https://", "ssh://", "git://"}) {
    if (url.rfind(scheme, 0) == 0 && url.size() > std::char_traits<char>::length(scheme)) return true;
  }
  // scp-like: user@host:path
  const auto at = url.find('@'), colon = url.find(':');
  return at != std::string::npos && colon != std::string::npos && at < colon && colon + 1 < url.size();
}

Mirror::Mirror(const std::filesystem::path& dir, const std::string& url) : repo_(std::make_unique<Repo>()), url_(url) {
  init_once();
  if (!plausible_url(url)) throw VcsError("bad-url", "not a repository URL: " + url);
  if (git_repository_open_bare(repo_->repo.out(), dir.c_str()) < 0) {
    check(git_repository_init(repo_->repo.out(), dir.c_str(), /*is_bare=*/1), "cannot create the mirror " + dir.string());
  }
  RemotePtr remote;
  if (git_remote_lookup(remote.out(), repo_->repo.get(), "origin") < 0) {
    check(git_remote_create_with_fetchspec(remote.out(), repo_->repo.get(), "origin", url.c_str(),
                                           "+refs/heads/*:refs/heads/*"),
          "cannot add origin " + url);
    check(git_remote_add_fetch(repo_->repo.get(), "origin", "+refs/tags/*:refs/tags/*"), "cannot add the tags refspec");
  } else if (url != git_remote_url(remote.get())) {
    check(git_remote_set_url(repo_->repo.get(), "origin", url.c_str()), "cannot change origin to " + url);
  }
}

Mirror::~Mirror() = default;

void Mirror::fetch() {
  RemotePtr remote;
  check(git_remote_lookup(remote.out(), repo_->repo.get(), "origin"), "no origin");
  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  options.prune = GIT_FETCH_PRUNE;
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // the refspec takes them all
  check(git_remote_fetch(remote.get(), nullptr, &options, "remsh mirror fetch"), "cannot fetch " + url_);
  // HEAD follows the origin's default branch (what `ref: HEAD` means to a recipe's author).
  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  if (git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, nullptr) == 0) {
    git_buf branch = GIT_BUF_INIT;
    if (git_remote_default_branch(&branch, remote.get()) == 0) {
      git_repository_set_head(repo_->repo.get(), branch.ptr);
    }
    git_buf_dispose(&branch);
    git_remote_disconnect(remote.get());
  }
}

std::string Mirror::resolve(const std::string& ref) const {
  if (ref.empty() || ref.size() > 1024) throw VcsError("bad-ref", "a ref is 1 to 1024 characters");
  ObjectPtr object;
  if (git_revparse_single(object.out(), repo_->repo.get(), ref.c_str()) < 0) fail("bad-ref", "no ref or commit " + ref);
  ObjectPtr commit;
  if (git_object_peel(commit.out(), object.get(), GIT_OBJECT_COMMIT) < 0) fail("bad-ref", ref + " is not a commit");
  return hex_of(git_object_id(commit.get()));
}

std::vector<TreeFile> Mirror::files(const std::string& commit_id) const {
  const git_oid oid = parse_oid(commit_id);
  CommitPtr commit;
  if (git_commit_lookup(commit.out(), repo_->repo.get(), &oid) < 0) fail("bad-ref", "no commit " + commit_id);
  TreePtr tree;
  check(git_commit_tree(tree.out(), commit.get()), "cannot read the tree of " + commit_id);
  std::vector<TreeFile> out;
  auto walk = [](const char* root, const git_tree_entry* entry, void* payload) -> int {
    auto& files = *static_cast<std::vector<TreeFile>*>(payload);
    TreeFile f;
    switch (git_tree_entry_filemode(entry)) {
      case GIT_FILEMODE_BLOB: f.kind = TreeFile::Kind::file; break;
      case GIT_FILEMODE_BLOB_EXECUTABLE: f.kind = TreeFile::Kind::executable; break;
      case GIT_FILEMODE_LINK: f.kind = TreeFile::Kind::symlink; break;
      case GIT_FILEMODE_COMMIT: f.kind = TreeFile::Kind::submodule; break;
      default: return 0;  // a tree: walked into
    }
    f.path = std::string(root) + git_tree_entry_name(entry);
    f.id = hex_of(git_tree_entry_id(entry));
    files.push_back(std::move(f));
    return 0;
  };
  check(git_tree_walk(tree.get(), GIT_TREEWALK_PRE, walk, &out), "cannot walk the tree of " + commit_id);
  std::sort(out.begin(), out.end(), [](const TreeFile& a, const TreeFile& b) { return a.path < b.path; });
  return out;
}

std::string Mirror::read_blob(const std::string& blob_id) const {
  const git_oid oid = parse_oid(blob_id);
  BlobPtr blob;
  check(git_blob_lookup(blob.out(), repo_->repo.get(), &oid), "no blob " + blob_id);
  const auto* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
  return std::string(data, static_cast<std::size_t>(git_blob_rawsize(blob.get())));
}

std::optional<std::string> Mirror::read_path(const std::string& commit_id, const std::string& path) const {
  const git_oid oid = parse_oid(commit_id);
  CommitPtr commit;
  if (git_commit_lookup(commit.out(), repo_->repo.get(), &oid) < 0) fail("bad-ref", "no commit " + commit_id);
  TreePtr tree;
  check(git_commit_tree(tree.out(), commit.get()), "cannot read the tree of " + commit_id);
  git_tree_entry* entry = nullptr;
  if (git_tree_entry_bypath(&entry, tree.get(), path.c_str()) < 0) return std::nullopt;
  const bool blob = git_tree_entry_type(entry) == GIT_OBJECT_BLOB;
  const std::string id = hex_of(git_tree_entry_id(entry));
  git_tree_entry_free(entry);
  if (!blob) return std::nullopt;
  return read_blob(id);
}

bool Mirror::has_commit(const std::string& commit_id) const {
  git_oid oid;
  if (commit_id.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, commit_id.c_str()) < 0) return false;
  CommitPtr commit;
  return git_commit_lookup(commit.out(), repo_->repo.get(), &oid) == 0;
}

std::int64_t Mirror::commit_time_ms(const std::string& commit_id) const {
  const git_oid oid = parse_oid(commit_id);
  CommitPtr commit;
  if (git_commit_lookup(commit.out(), repo_->repo.get(), &oid) < 0) fail("bad-ref", "no commit " + commit_id);
  return static_cast<std::int64_t>(git_commit_time(commit.get())) * 1000;
}

}  // namespace remsh::vcs
