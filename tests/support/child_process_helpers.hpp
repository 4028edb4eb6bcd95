// Helpers of the ChildProcess tests of every platform (tests/remsh-agent, tests/windows):
// a coroutine run on a fresh io_context within a time limit, a started process, its output.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "platform/child_process.hpp"

namespace remsh::agent::testing {

// Runs body(executor) to completion within `limit`, rethrowing what it threw.
template <class Body>
void run_within(std::chrono::seconds limit, Body body) {
  boost::asio::io_context io;
  bool done = false;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, body(io.get_executor()), [&](std::exception_ptr e) {
    done = true;
    failure = e;
  });
  io.run_for(limit);
  REQUIRE(done);
  if (failure) std::rethrow_exception(failure);
}

inline std::unique_ptr<ChildProcess> start(const boost::asio::any_io_executor& ex, const ProcessSpec& spec) {
  SpawnError error;
  auto process = spawn_process(ex, spec, error);
  INFO(error.tag << ": " << error.message);
  REQUIRE(process);
  return process;
}

// Everything the process writes on `stream`, until end of file.
inline boost::asio::awaitable<std::string> read_all(ChildProcess& p, OutputStream stream) {
  std::string out;
  std::vector<char> buf(65536);
  for (;;) {
    const std::size_t n = co_await p.read(stream, boost::asio::buffer(buf));
    if (n == 0) co_return out;
    out.append(buf.data(), n);
  }
}

}  // namespace remsh::agent::testing
