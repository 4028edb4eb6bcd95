// Small helpers shared by the protocol tests: hex, deterministic random bytes, vector files.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace remsh::test {

inline std::vector<std::uint8_t> from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex length");
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

inline std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

// Reproducible pseudo-random bytes: printable-ish text when `text`, else uniform bytes.
inline std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t n,
                                              bool text = false) {
  std::vector<std::uint8_t> out(n);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> word(0, 15);
  static const char* words[16] = {"error ", "warning ", "make ", "[1/9] ", "g++ ", "-O2 ",
                                  "src/", "main.cpp ", "\n", "note: ", "in function ",
                                  "ld ", "CMake ", "test ", "passed\n", "ok "};
  if (!text) {
    for (auto& b : out) b = static_cast<std::uint8_t>(byte(rng));
    return out;
  }
  std::size_t i = 0;
  while (i < n) {
    const char* w = words[word(rng)];
    for (; *w && i < n; ++w) out[i++] = static_cast<std::uint8_t>(*w);
  }
  return out;
}

inline boost::json::value load_vectors(const std::string& name) {
  std::ifstream in(std::string(REMSH_VECTORS_DIR) + "/" + name);
  if (!in) throw std::runtime_error("cannot open vector file " + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

}  // namespace remsh::test
