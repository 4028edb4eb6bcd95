// Shell quoting: an argv written so that a POSIX shell (or cmd.exe) reads it back unchanged.
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

// `word` for cmd.exe: as is unless it holds a space or a character cmd reads (tab " & | < > ^
// % ( )), else in double quotes with a " inside written \".
std::string cmd_quote(std::string_view word);

}  // namespace remsh::cli
