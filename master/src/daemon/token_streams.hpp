// TokenStreams: the API's open WebSocket streams (a run, a shell, a file operation, a log
// follower), by the API token that opened them. A request checks its token when it starts;
// a stream lives on. Deleting a token ends its streams too, so a leaked token stops working
// at once, also in a shell already open with it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace remsh::master {

class TokenStreams {
 public:
  // Registers a stream of `token_id`; `end` closes it. The stream stays registered while the
  // returned handle lives.
  class Handle {
   public:
    Handle(TokenStreams& owner, std::uint64_t key) : owner_(&owner), key_(key) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { owner_->streams_.erase(key_); }

   private:
    TokenStreams* owner_;
    std::uint64_t key_;
  };
  Handle add(std::string token_id, std::function<void()> end) {
    const std::uint64_t key = ++last_key_;
    streams_.emplace(key, Stream{std::move(token_id), std::move(end)});
    return Handle(*this, key);
  }

  // Ends every stream of `token_id`; returns how many.
  std::size_t end_all(const std::string& token_id) {
    std::size_t n = 0;
    for (auto& [key, stream] : std::map(streams_)) {  // ending one may unregister others
      if (stream.token_id == token_id && streams_.count(key)) {
        stream.end();
        ++n;
      }
    }
    return n;
  }

 private:
  struct Stream {
    std::string token_id;
    std::function<void()> end;
  };
  std::map<std::uint64_t, Stream> streams_;
  std::uint64_t last_key_ = 0;
};

}  // namespace remsh::master
