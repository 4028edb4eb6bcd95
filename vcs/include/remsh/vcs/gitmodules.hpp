// .gitmodules: where a commit's submodules come from. The master reads it from the commit
// (never from a work tree) to export submodules in snapshot mode. Pure: no I/O.
#pragma once

#include <string>
#include <vector>

namespace remsh::vcs {

struct Submodule {
  std::string name;
  std::string path;
  std::string url;  // as written: may be relative to the superproject's URL ("../lib.git")
};

// The [submodule "NAME"] sections that have both a path and a url. Lines it does not
// understand are skipped, as git does for unknown keys.
std::vector<Submodule> parse_gitmodules(const std::string& text);

// A submodule URL resolved against the superproject's: "../lib.git" next to
// "file:///srv/app.git" is "file:///srv/lib.git"; an absolute URL is returned as it is.
std::string resolve_submodule_url(const std::string& superproject, const std::string& url);

}  // namespace remsh::vcs
