#include <catch2/catch.hpp>

#include "remsh/protocol/fifo_queue.hpp"

#include <memory>
#include <string>
#include <vector>

using remsh::protocol::FifoQueue;

namespace {
template <typename T>
std::vector<T> contents(const FifoQueue<T>& q) {
  return {q.begin(), q.end()};
}
}  // namespace

TEST_CASE("fifo queue gives items back in the order they came, across compactions", "[fifo]") {
  FifoQueue<int> q;
  REQUIRE(q.empty());
  int next_in = 0, next_out = 0;
  // Pushes run ahead of pops by a varying margin, so the queue empties, grows past the
  // compaction threshold and compacts with live items in it.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < round % 70; ++i) q.push_back(next_in++);
    for (int i = 0; i < round % 50 && !q.empty(); ++i) {
      REQUIRE(q.front() == next_out++);
      q.pop_front();
    }
    REQUIRE(q.size() == static_cast<std::size_t>(next_in - next_out));
    std::vector<int> expected;
    for (int v = next_out; v < next_in; ++v) expected.push_back(v);
    REQUIRE(contents(q) == expected);
  }
  while (!q.empty()) {
    REQUIRE(q.front() == next_out++);
    q.pop_front();
  }
  REQUIRE(next_out == next_in);
}

TEST_CASE("fifo queue releases a popped item at once", "[fifo]") {
  FifoQueue<std::shared_ptr<std::string>> q;
  auto first = std::make_shared<std::string>("first");
  std::weak_ptr<std::string> watch = first;
  q.push_back(std::move(first));
  q.push_back(std::make_shared<std::string>("second"));
  q.pop_front();
  // The slot stays in the vector until compaction; what it held must not.
  REQUIRE(watch.expired());
  REQUIRE(*q.front() == "second");
  REQUIRE(*q.back() == "second");
}

TEST_CASE("fifo queue: emplace_back returns the new item, clear empties", "[fifo]") {
  FifoQueue<std::string> q;
  q.emplace_back(3, 'x') += "y";
  REQUIRE(q.front() == "xxxy");
  q.clear();
  REQUIRE(q.empty());
  REQUIRE(q.size() == 0);
  REQUIRE(q.begin() == q.end());
}
