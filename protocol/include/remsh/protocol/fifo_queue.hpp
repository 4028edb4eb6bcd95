// FifoQueue: a first-in first-out queue on one std::vector that costs nothing while empty.
//
// A master holds a Session per connected agent, thousands of them idle, each with an event
// queue and a replay buffer that are empty nearly all the time. libstdc++'s std::deque
// allocates a map and a 512-byte block as soon as it is constructed (~1.1 KiB a session for
// two of them); a vector allocates on its first push. Popped slots are reset at once, so a
// popped element's memory (a 1 MiB frame) is not held until the next compaction.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace remsh::protocol {

template <typename T>
class FifoQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }

  T& front() { return items_[head_]; }
  T& back() { return items_.back(); }
  // The i-th element from the front (i < size()).
  const T& operator[](std::size_t i) const { return items_[head_ + i]; }

  // The reference is valid until the next push.
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    return items_.emplace_back(std::forward<Args>(args)...);
  }
  void push_back(T item) { items_.push_back(std::move(item)); }

  // Precondition: not empty.
  void pop_front() {
    items_[head_] = T{};
    if (++head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= kCompactAfter && head_ * 2 >= items_.size()) {
      // Moves the live half down: each element is moved O(1) times on average.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  void clear() {
    items_.clear();
    head_ = 0;
  }
  void shrink_to_fit() { items_.shrink_to_fit(); }

  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }

 private:
  static constexpr std::size_t kCompactAfter = 32;
  std::vector<T> items_;
  std::size_t head_ = 0;  // items_[0, head_) are popped (reset) slots
};

}  // namespace remsh::protocol
