// What a secret may be called: an environment variable name, [A-Za-z_][A-Za-z0-9_]*, at most
// 128 (steps get it by that name).
#pragma once

#include <string>

namespace remsh::master {

inline bool valid_secret_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace remsh::master
