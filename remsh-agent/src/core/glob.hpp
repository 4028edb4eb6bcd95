// Shell-style name patterns for fs `list`/`manifest` (docs/protocol.md 9.6 `glob`):
// `*` any run of bytes, `?` one byte, `[abc]`, `[a-z]`, `[!x]`; `\` quotes the next byte.
// Matched against one name (no `/` handling needed), bytewise.
#pragma once

#include <string_view>

namespace remsh::agent {

bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace remsh::agent
