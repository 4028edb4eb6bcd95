// UTF-8 (the protocol's and the core's text) to UTF-16 (what Windows APIs take) and back.
// Invalid sequences are replaced (U+FFFD), never dropped silently.
#pragma once

#include <string>
#include <string_view>

namespace remsh::agent::win {

std::wstring widen(std::string_view utf8);
std::string narrow(std::wstring_view utf16);
// The text of a Win32 error code (GetLastError()), in UTF-8, without the trailing newline.
std::string error_text(unsigned long code);

}  // namespace remsh::agent::win
