#include "daemon/repo_routes.hpp"

#include "daemon/api_error.hpp"
#include "daemon/recipe.hpp"
#include "daemon/state_dir.hpp"

namespace remsh::master {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr unsigned kBadRequest = 400, kNotFound = 404, kConflict = 409, kBadGateway = 502;

json::object repo_json(const RepoRecord& r) {
  return json::object{{"name", r.name},
                      {"url", r.url},
                      {"created_ms", r.created_ms},
                      {"fetched_ms", r.fetched_ms ? json::value(*r.fetched_ms) : json::value(nullptr)}};
}

// Fetches on the git thread; the commit HEAD points at (or "" for an empty repository).
asio::awaitable<std::string> fetch(StateDir& state, const RepoRecord& repo) {
  VcsService& vcs = state.vcs();
  // Named, not a temporary in the co_await: GCC 12 destroys such temporaries twice.
  auto work = [&vcs, repo] {
    std::pair<std::string, std::string> out;
    try {
      vcs::Mirror& mirror = vcs.mirror(repo.name, repo.url);
      mirror.fetch();
      try {
        out.first = mirror.resolve("HEAD");
      } catch (const vcs::VcsError&) {
        // an empty repository has no HEAD commit yet
      }
    } catch (const vcs::VcsError& e) {
      out.second = e.what();
      vcs.remove(repo.name);  // a half-made mirror would only confuse the next try
    }
    return out;
  };
  const std::pair<std::string, std::string> answer = co_await vcs.run(std::move(work));
  if (const std::string& why = answer.second; !why.empty()) {
    // The mirror's own errors may already say it (and name the URL): once is enough.
    throw ApiError{kBadGateway, "fetch-failed", why.rfind("cannot fetch ", 0) == 0 ? why : "cannot fetch " + repo.url + ": " + why};
  }
  co_return answer.first;
}

}  // namespace

bool is_repo_route(const std::string& path) { return path == "/api/v1/repos" || path.rfind("/api/v1/repos/", 0) == 0; }

asio::awaitable<std::optional<json::object>> handle_repo_route(StateDir& state, AdminRequest r) {
  Storage& db = state.storage();
  if (r.path == "/api/v1/repos" && r.method == "GET") {
    json::array list;
    for (const RepoRecord& repo : db.list_repos()) list.push_back(repo_json(repo));
    co_return json::object{{"repos", std::move(list)}};
  }
  if (r.path == "/api/v1/repos" && r.method == "POST") {
    const json::value* name = r.body ? r.body->if_contains("name") : nullptr;
    const json::value* url = r.body ? r.body->if_contains("url") : nullptr;
    if (!name || !name->is_string() || !url || !url->is_string()) {
      throw ApiError{kBadRequest, "bad-request", "\"name\" and \"url\" (strings) are required"};
    }
    RepoRecord repo;
    repo.name = std::string(name->get_string());
    repo.url = std::string(url->get_string());
    if (!valid_artifact_name(repo.name) || repo.name.size() > 64) {
      throw ApiError{kBadRequest, "bad-request", "a repository's name is 1 to 64 of A-Z a-z 0-9 . _ - (not starting with a dot)"};
    }
    if (!vcs::plausible_url(repo.url)) {
      throw ApiError{kBadRequest, "bad-request", "not a repository URL (file://, https://, ssh://, git://, user@host:path): " + repo.url};
    }
    if (db.get_repo(repo.name)) throw ApiError{kConflict, "exists", "a repository named " + repo.name + " exists (remsh repo list)"};
    repo.created_ms = now_ms();
    const std::string head = co_await fetch(state, repo);
    repo.fetched_ms = now_ms();
    db.put_repo(repo);
    json::object answer = repo_json(repo);
    answer["head"] = head;
    co_return answer;
  }
  const std::string prefix = "/api/v1/repos/";
  if (r.path.rfind(prefix, 0) != 0) co_return std::nullopt;
  std::string rest = r.path.substr(prefix.size());
  const bool fetching = rest.size() > 6 && rest.compare(rest.size() - 6, 6, "/fetch") == 0;
  if (fetching) rest.resize(rest.size() - 6);
  auto repo = db.get_repo(rest);
  if (!repo) throw ApiError{kNotFound, "not-found", "no repository " + rest + " (remsh repo list)"};
  if (fetching && r.method == "POST") {
    const std::string head = co_await fetch(state, *repo);
    repo->fetched_ms = now_ms();
    db.put_repo(*repo);
    json::object answer = repo_json(*repo);
    answer["head"] = head;
    co_return answer;
  }
  if (!fetching && r.method == "GET") co_return repo_json(*repo);
  if (!fetching && r.method == "DELETE") {
    db.delete_repo(repo->name);
    VcsService& vcs = state.vcs();
    auto work = [&vcs, name = repo->name] {
      vcs.remove(name);
      return 0;
    };
    co_await vcs.run(std::move(work));
    co_return json::object{{"name", repo->name}, {"deleted", true}};
  }
  co_return std::nullopt;
}

}  // namespace remsh::master
