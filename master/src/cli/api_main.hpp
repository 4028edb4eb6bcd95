// Runs one API coroutine on a fresh io_context and turns its outcome into an exit code:
// its own return value, or, for an exception, the error printed as "remsh: <tag>: <message>"
// and 127 (exec-failed) or 255.
#pragma once

#include "api_client.hpp"

#include <boost/asio/awaitable.hpp>

#include <exception>
#include <functional>

namespace remsh::cli {

int run_api_main(const ConnectionSettings& settings,
                 const std::function<boost::asio::awaitable<int>(ApiClient&)>& body);

// Prints the error an exception carries; the exit code for it.
int report_exception(const std::exception_ptr& error);

}  // namespace remsh::cli
