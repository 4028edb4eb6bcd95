// Utf8Text: terminal output as JSON-safe text, chunk by chunk (asciicast events are JSON
// strings). A character split across two chunks is carried over to the next one; bytes that
// are not UTF-8 become U+FFFD, as a terminal would show them.
#pragma once

#include <string>

#include "remsh/protocol/byte_buffer.hpp"

namespace remsh::master {

class Utf8Text {
 public:
  // The text of `bytes` after what was carried; an incomplete character at the end waits.
  std::string take(protocol::ByteView bytes);
  // Whatever is still carried, as text (at the end of the stream).
  std::string flush();

 private:
  std::string carry_;
};

}  // namespace remsh::master
