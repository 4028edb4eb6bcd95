// The master's side of the handshake: what an unauthenticated peer can send. Decisions are
// taken by fixed rules so the fuzzer reaches every state.
#include <cstdint>

#include "remsh/protocol/auth.hpp"
#include "remsh/protocol/handshake.hpp"

using namespace remsh::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Hello hello;
  hello.software = "fuzz";
  MasterHandshake master(hello);
  master.start();
  const std::size_t step = size > 0 ? 1 + data[0] % 32 : 1;
  ByteView rest{data, size};
  while (!rest.empty()) {
    const std::size_t n = rest.size() < step ? rest.size() : step;
    if (master.receive(rest.first(n))) return 0;
    rest = rest.subspan(n);
    switch (master.state()) {
      case MasterHandshake::State::hello_received:
        if (master.agent_hello().agent) {
          master.challenge(std::string(64, 'a'));
        } else {
          master.expect_enrollment();
        }
        break;
      case MasterHandshake::State::auth_received: {
        const Digest key = stored_key(as_bytes("secret"));
        if (verify_auth_proof(key, *master.agent_hello().agent,
                              master.agent_hello().nonce.value_or(""), master.nonce(),
                              master.auth().proof)) {
          master.welcome(Welcome{"s", false, 0, {Codec::deflate}, 15, 45});
        } else {
          master.reject({ErrorTag::auth_failed, "no"});
        }
        return 0;
      }
      case MasterHandshake::State::enroll_received:
        master.reject({ErrorTag::auth_failed, "token"});
        return 0;
      default:
        break;
    }
    if (master.receive({})) return 0;
  }
  return 0;
}
