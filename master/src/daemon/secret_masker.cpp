#include "daemon/secret_masker.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace remsh::master {

namespace {

constexpr std::uint8_t kMask[] = {'*', '*', '*'};

void append(std::vector<std::uint8_t>& out, const std::uint8_t* begin, const std::uint8_t* end) {
  out.insert(out.end(), begin, end);
}

}  // namespace

SecretMasker::SecretMasker(const std::vector<std::string>& secrets) {
  const auto add = [this](std::string_view value) {
    if (value.size() >= kMinSecretLength) patterns_.emplace_back(value);
  };
  for (const std::string& secret : secrets) {
    add(secret);
    if (secret.find('\n') == std::string::npos) continue;
    // A certificate or key printed line by line (or with \r\n line ends) still hides.
    std::string_view rest = secret;
    while (!rest.empty()) {
      const std::size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      add(line);
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  std::sort(patterns_.begin(), patterns_.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  patterns_.erase(std::unique(patterns_.begin(), patterns_.end()), patterns_.end());
  for (std::size_t i = 0; i < patterns_.size(); ++i) {
    const auto first = static_cast<std::uint8_t>(patterns_[i].front());
    by_first_byte_[first].push_back(i);
    starts_secret_[first] = true;
  }
}

std::size_t SecretMasker::scan(protocol::ByteView in, bool final, std::vector<std::uint8_t>& out) const {
  const std::uint8_t* const data = in.data();
  const std::size_t n = in.size();
  std::size_t i = 0;
  std::size_t run = 0;  // start of the bytes passed through but not yet copied to `out`
  while (i < n) {
    if (!starts_secret_[data[i]]) {
      ++i;
      continue;
    }
    const std::size_t left = n - i;
    std::size_t matched = 0;
    bool undecided = false;
    for (const std::size_t p : by_first_byte_[data[i]]) {
      const std::string& pattern = patterns_[p];
      if (pattern.size() > left) {
        // Longer than what is there: a longer secret may yet match here, which would win
        // over any shorter one that matches now, so the decision waits for more bytes.
        if (!final && std::memcmp(data + i, pattern.data(), left) == 0) {
          undecided = true;
          break;
        }
      } else if (std::memcmp(data + i, pattern.data(), pattern.size()) == 0) {
        matched = pattern.size();
        break;
      }
    }
    if (undecided) break;
    if (matched == 0) {
      ++i;
      continue;
    }
    append(out, data + run, data + i);
    // A multi-line secret becomes one mask per line, its line ends kept, so the output keeps
    // its lines (documented: each of its lines is masked).
    for (std::size_t k = i; k < i + matched; ++k) {
      if (k == i || data[k - 1] == '\n') append(out, std::begin(kMask), std::end(kMask));
      if (data[k] == '\r' || data[k] == '\n') out.push_back(data[k]);
    }
    i += matched;
    run = i;
  }
  append(out, data + run, data + i);
  return i;
}

std::vector<std::uint8_t> SecretMasker::filter(std::uint8_t stream, protocol::ByteView bytes) {
  std::vector<std::uint8_t> out;
  if (empty()) {
    out.assign(bytes.begin(), bytes.end());
    return out;
  }
  std::vector<std::uint8_t>& held = held_[stream];
  if (held.empty()) {
    // The usual case: nothing waits, so the chunk is scanned where it lies, not copied.
    out.reserve(bytes.size());
    const std::size_t done = scan(bytes, false, out);
    held.assign(bytes.begin() + static_cast<std::ptrdiff_t>(done), bytes.end());
    return out;
  }
  held.insert(held.end(), bytes.begin(), bytes.end());
  out.reserve(held.size());
  const std::size_t done = scan(held, false, out);
  held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(done));
  return out;
}

std::vector<std::uint8_t> SecretMasker::finish(std::uint8_t stream) {
  std::vector<std::uint8_t> out;
  const auto it = held_.find(stream);
  if (it == held_.end()) return out;
  // No more bytes can come, so what could only have been a longer secret is decided now:
  // the longest secret that matches completely is masked, the rest passes.
  scan(it->second, true, out);
  held_.erase(it);
  return out;
}

}  // namespace remsh::master
