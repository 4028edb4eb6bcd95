// Control messages: a CONTROL payload through JSON parsing and every typed validator.
#include <cstdint>
#include <variant>

#include "remsh/protocol/messages.hpp"

using namespace remsh::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = parse_control(ByteView{data, size});
  auto* message = std::get_if<ControlMessage>(&parsed);
  if (!message) return 0;
  auto error = validate_control(*message);
  if (error) return 0;
  // Whatever validates must survive a serialize/parse round trip.
  std::string text = serialize(message->body);
  auto again = parse_control(as_bytes(text));
  if (std::holds_alternative<ProtocolError>(again)) __builtin_trap();
  if (validate_control(std::get<ControlMessage>(again))) __builtin_trap();
  return 0;
}
