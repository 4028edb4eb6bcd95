#include "remsh/vcs/gitmodules.hpp"

#include <sstream>

namespace remsh::vcs {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// A value as git writes it: optionally in double quotes.
std::string unquote(std::string v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

}  // namespace

std::vector<Submodule> parse_gitmodules(const std::string& text) {
  std::vector<Submodule> out;
  std::istringstream in(text);
  std::string line;
  Submodule current;
  bool in_section = false;
  const auto finish = [&] {
    if (in_section && !current.path.empty() && !current.url.empty()) out.push_back(current);
    current = Submodule{};
  };
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      finish();
      const auto open = line.find('"'), close = line.rfind('"');
      in_section = line.rfind("[submodule", 0) == 0 && open != std::string::npos && close > open;
      if (in_section) current.name = line.substr(open + 1, close - open - 1);
      continue;
    }
    const auto eq = line.find('=');
    if (!in_section || eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    const std::string value = unquote(trim(line.substr(eq + 1)));
    if (key == "path") current.path = value;
    if (key == "url") current.url = value;
  }
  finish();
  return out;
}

std::string resolve_submodule_url(const std::string& superproject, const std::string& url) {
  if (url.rfind("./", 0) != 0 && url.rfind("../", 0) != 0) return url;
  std::string base = superproject;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string rest = url;
  for (;;) {
    if (rest.rfind("./", 0) == 0) {
      rest = rest.substr(2);
    } else if (rest.rfind("../", 0) == 0) {
      rest = rest.substr(3);
      const auto slash = base.find_last_of("/:");
      // Never climb past the host part of a URL.
      if (slash != std::string::npos && base.find("://") + 2 != slash) base = base.substr(0, slash);
    } else {
      break;
    }
  }
  return base + "/" + rest;
}

}  // namespace remsh::vcs
