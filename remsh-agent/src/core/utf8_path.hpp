// Paths to and from the protocol's UTF-8 text. std::filesystem::path(std::string) and
// path::string() use the platform's narrow encoding, which on Windows is the ANSI code page
// (cp1252 on most machines): "é" in UTF-8 would become two other characters there. Every
// conversion between a path and text the master sends or receives goes through these two,
// which are exact on POSIX (bytes stay bytes) and on Windows (UTF-8 <-> UTF-16).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace remsh::agent {

inline std::filesystem::path utf8_path(std::string_view text) {
  return std::filesystem::path(std::u8string(text.begin(), text.end()));
}

inline std::string utf8_string(const std::filesystem::path& path) {
  const std::u8string text = path.u8string();
  return std::string(text.begin(), text.end());
}

}  // namespace remsh::agent
