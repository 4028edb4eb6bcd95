#include "core/glob.hpp"

#include <cstddef>

namespace remsh::agent {

namespace {

// Matches one bracket expression at pattern[p] (just after '['); on success sets `next` to
// the index after ']' and returns whether c is in the set. A '[' without its ']' is literal.
bool match_class(std::string_view pattern, std::size_t p, char c, std::size_t& next, bool& valid) {
  bool negate = false;
  if (p < pattern.size() && (pattern[p] == '!' || pattern[p] == '^')) {
    negate = true;
    ++p;
  }
  bool matched = false;
  bool first = true;
  while (p < pattern.size() && (pattern[p] != ']' || first)) {
    first = false;
    char lo = pattern[p];
    if (lo == '\\' && p + 1 < pattern.size()) lo = pattern[++p];
    char hi = lo;
    if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
      hi = pattern[p + 2];
      p += 2;
    }
    const auto uc = static_cast<unsigned char>(c);
    if (static_cast<unsigned char>(lo) <= uc && uc <= static_cast<unsigned char>(hi)) matched = true;
    ++p;
  }
  valid = p < pattern.size();
  next = p + 1;
  return matched != negate;
}

}  // namespace

// Iterative with one backtrack point for the last '*': linear in practice, and never
// exponential on hostile patterns.
bool glob_match(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0;
  std::size_t star_p = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = ++p;
        star_n = n;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++n;
        continue;
      }
      if (pc == '[') {
        std::size_t next = 0;
        bool valid = false;
        const bool in = match_class(pattern, p + 1, name[n], next, valid);
        if (valid) {
          if (in) {
            p = next;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {  // literal '['
          ++p;
          ++n;
          continue;
        }
      } else {
        char lit = pc;
        std::size_t adv = 1;
        if (pc == '\\' && p + 1 < pattern.size()) {
          lit = pattern[p + 1];
          adv = 2;
        }
        if (lit == name[n]) {
          p += adv;
          ++n;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace remsh::agent
