// ApiError: how a request handler refuses: an HTTP status, a stable machine tag and a
// human message (docs/api.md, "Errors"). Kept free of Beast so handlers need not include it.
#pragma once

#include <string>

namespace remsh::master {

struct ApiError {
  unsigned status;  // 400 bad request, 401, 403 role, 404 unknown, 409 conflict, 503 offline
  std::string tag;
  std::string message;
};

}  // namespace remsh::master
