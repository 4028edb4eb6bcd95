// OutputWatcher: someone receiving a channel's output on the master (an API client on a
// WebSocket), whether the channel runs a command or a file operation.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "remsh/protocol/frame.hpp"

namespace remsh::master {

// One DATA frame's worth of a channel's output.
struct OutputChunk {
  std::uint8_t stream = 0;
  std::shared_ptr<const std::vector<std::uint8_t>> bytes;  // decoded; never null
  // The frame's payload as the agent compressed it (codec != none), for a watcher that
  // decodes the stream itself: the master then relays a few bytes instead of many.
  protocol::Codec codec = protocol::Codec::none;
  std::shared_ptr<const std::vector<std::uint8_t>> wire;
};

class OutputWatcher {
 public:
  virtual ~OutputWatcher() = default;
  // The work started; id: the command's id (0 for a file operation, which has none).
  virtual void on_started(std::int64_t id) = 0;
  // Call done() once the bytes are taken care of (written to the client).
  virtual void on_output(OutputChunk chunk, std::function<void()> done) = 0;
  virtual void on_finished(const boost::json::object& record) = 0;
  virtual void on_error(const std::string& tag, const std::string& message) = 0;
};

}  // namespace remsh::master
