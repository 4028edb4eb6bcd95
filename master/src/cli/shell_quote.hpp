// Shell quoting for display: an argv shown so that a POSIX shell would read it back unchanged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace remsh::cli {

// `word` as is when it only holds characters no shell treats specially
// (letters, digits and @%+=:,./-_), otherwise in single quotes ('' for an empty word;
// a ' inside becomes '\'').
std::string shell_quote(std::string_view word);

// The words quoted as needed and joined with single spaces.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace remsh::cli
