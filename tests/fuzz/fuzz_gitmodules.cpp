// .gitmodules: text from a fetched repository (bytes off the network), read by the master to
// export submodules; and the submodule URLs it resolves against the superproject's.
#include <cstdint>
#include <string>

#include "remsh/vcs/gitmodules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& m : remsh::vcs::parse_gitmodules(text)) {
    if (m.path.empty() || m.url.empty()) __builtin_trap();
    const std::string url = remsh::vcs::resolve_submodule_url("https://host/org/app.git", m.url);
    if (url.empty()) __builtin_trap();
  }
  (void)remsh::vcs::resolve_submodule_url(text, "../x");
  return 0;
}
