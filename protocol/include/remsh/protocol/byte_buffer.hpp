// ByteBuffer: the one growable byte queue every codec builds on (after OpenSSH's sshbuf).
//
// Bytes are appended at the back and consumed from the front. Consumed space is reclaimed
// lazily, so a decoder that takes whole frames out of a stream costs one memmove per
// compaction, not one per frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace remsh::protocol {

using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = default;
  ByteBuffer& operator=(const ByteBuffer&) = default;
  // A moved-from buffer is empty (not a vector with a stale read offset).
  ByteBuffer(ByteBuffer&& other) noexcept
      : storage_(std::move(other.storage_)), head_(std::exchange(other.head_, 0)) {
    other.storage_.clear();
  }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    storage_ = std::move(other.storage_);
    head_ = std::exchange(other.head_, 0);
    other.storage_.clear();
    return *this;
  }

  std::size_t size() const { return storage_.size() - head_; }
  bool empty() const { return size() == 0; }
  ByteView view() const { return {storage_.data() + head_, size()}; }
  const std::uint8_t* data() const { return storage_.data() + head_; }

  void append(ByteView bytes) {
    if (bytes.empty()) return;
    compact_if_worthwhile(bytes.size());
    storage_.insert(storage_.end(), bytes.begin(), bytes.end());
  }
  void append(std::string_view s) { append(as_bytes(s)); }
  void append_u8(std::uint8_t v) { storage_.push_back(v); }
  void append_u16(std::uint16_t v);
  void append_u32(std::uint32_t v);
  void append_u64(std::uint64_t v);

  // Grows the buffer by n uninitialised bytes and returns where to write them; pair with
  // shrink_back() when fewer were written (used by compressors writing in place).
  std::uint8_t* grow_back(std::size_t n) {
    compact_if_worthwhile(n);
    std::size_t old = storage_.size();
    storage_.resize(old + n);
    return storage_.data() + old;
  }
  void shrink_back(std::size_t n) { storage_.resize(storage_.size() - n); }

  // Drops n bytes from the front (n <= size()).
  void consume(std::size_t n) {
    head_ += n;
    if (head_ == storage_.size()) clear();
  }
  void clear() {
    storage_.clear();
    head_ = 0;
  }
  void reserve(std::size_t n) { storage_.reserve(head_ + n); }
  // Gives back capacity beyond the live bytes (buffers keep their peak size otherwise).
  void shrink_to_fit() {
    compact();
    storage_.shrink_to_fit();
  }

 private:
  void compact_if_worthwhile(std::size_t incoming) {
    // Move live bytes to the front once the dead prefix is at least as big as what lives
    // after it, or when it saves a reallocation.
    if (head_ == 0) return;
    if (head_ >= size() || storage_.size() + incoming > storage_.capacity()) compact();
  }
  void compact() {  // live bytes to the front
    if (head_ == 0) return;
    const std::size_t live = size();
    std::memmove(storage_.data(), storage_.data() + head_, live);
    storage_.resize(live);
    head_ = 0;
  }

  std::vector<std::uint8_t> storage_;
  std::size_t head_ = 0;
};

// Big-endian readers over raw memory; callers check the length first.
inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
         (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}
inline std::uint64_t load_u64(const std::uint8_t* p) {
  return (std::uint64_t{load_u32(p)} << 32) | load_u32(p + 4);
}
inline void store_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline void store_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

inline void ByteBuffer::append_u16(std::uint16_t v) { store_u16(grow_back(2), v); }
inline void ByteBuffer::append_u32(std::uint32_t v) { store_u32(grow_back(4), v); }
inline void ByteBuffer::append_u64(std::uint64_t v) { store_u64(grow_back(8), v); }

}  // namespace remsh::protocol
