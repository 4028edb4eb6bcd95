// split_host_port (platform/transport.hpp): text only, the same for every platform's transport.
#include "platform/transport.hpp"

#include <algorithm>
#include <cctype>

namespace remsh::agent {

bool split_host_port(const std::string& address, std::string& host, std::string& port) {
  std::size_t colon;
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') return false;
    host = address.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = address.rfind(':');
    if (colon == std::string::npos) return false;
    host = address.substr(0, colon);
  }
  port = address.substr(colon + 1);
  return !host.empty() && !port.empty() &&
         std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

}  // namespace remsh::agent
