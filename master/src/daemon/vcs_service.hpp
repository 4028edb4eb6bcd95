// VcsService: the master's repository mirrors (STATE/repos/NAME.git) and the one thread all
// git work runs on. A fetch can take seconds or minutes: on the master's own thread it would
// stall every agent and API client, so callers co_await the work here instead. One thread
// also means a mirror is never used by two threads at once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "remsh/vcs/mirror.hpp"

namespace remsh::master {

class VcsService {
 public:
  explicit VcsService(std::filesystem::path dir);
  ~VcsService();

  // Runs fn() on the git thread and resumes the caller with its result, or its exception.
  // (Not a coroutine itself, and fn is held by a shared_ptr rather than a coroutine lambda's
  // capture: GCC 12 destroys such captures twice.)
  template <typename F>
  auto run(F fn) -> boost::asio::awaitable<decltype(fn())> {
    return boost::asio::co_spawn(pool_, call(std::make_shared<F>(std::move(fn))), boost::asio::use_awaitable);
  }

  // The mirror of repository `name` (created on first use). On the git thread only.
  vcs::Mirror& mirror(const std::string& name, const std::string& url);
  // A mirror opened before (by mirror()), or null. On the git thread only.
  vcs::Mirror* find(const std::string& name);
  // The commit a checkout step uses: `pinned` (resolved when its job started; fetched again
  // only if the mirror lost it), else `ref` after a fetch. On the git thread only.
  static std::string step_commit(vcs::Mirror& mirror, const std::string& ref, const std::string& pinned);
  // Forgets a repository's mirror and removes it from disk. On the git thread only.
  void remove(const std::string& name);
  // The SHA-256 of a blob (what an agent's manifest reports), remembered by blob id.
  // On the git thread only.
  const std::string& blob_sha256(vcs::Mirror& mirror, const std::string& blob_id);
  // A directory for temporary files (checkout archives).
  const std::filesystem::path& temp_dir() const { return temp_; }

 private:
  template <typename F>
  static auto call(std::shared_ptr<F> fn) -> boost::asio::awaitable<decltype((*fn)())> {
    co_return (*fn)();
  }

  std::filesystem::path dir_;
  std::filesystem::path temp_;
  boost::asio::thread_pool pool_{1};
  std::map<std::string, std::unique_ptr<vcs::Mirror>> mirrors_;
  std::map<std::string, std::string> sha256_;  // blob id -> sha256 hex (ids are content hashes)
};

}  // namespace remsh::master
