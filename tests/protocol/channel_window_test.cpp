#include <catch2/catch.hpp>

#include "remsh/protocol/channel_window.hpp"
#include "remsh/protocol/limits.hpp"

using namespace remsh::protocol;

TEST_CASE("send window: consume and grant", "[window]") {
  SendWindow w(1000);
  w.consume(600);
  REQUIRE(w.credit() == 400);
  REQUIRE_FALSE(w.grant(600));
  REQUIRE(w.credit() == 1000);
}

TEST_CASE("send window: zero and overflowing grants are flow-control errors", "[window]") {
  SendWindow w(10);
  REQUIRE(w.grant(0)->tag == ErrorTag::flow_control);
  SendWindow big(kMaxWindow - 5);
  REQUIRE(big.grant(6)->tag == ErrorTag::flow_control);
  REQUIRE_FALSE(big.grant(5));
}

TEST_CASE("receive window: overrun is a flow-control error", "[window]") {
  ReceiveWindow w(100);
  REQUIRE_FALSE(w.on_received(60));
  REQUIRE_FALSE(w.on_received(40));
  auto e = w.on_received(1);
  REQUIRE(e);
  REQUIRE(e->tag == ErrorTag::flow_control);
}

TEST_CASE("receive window: grants once half the window is consumed", "[window]") {
  ReceiveWindow w(100);
  REQUIRE_FALSE(w.on_received(100));
  REQUIRE_FALSE(w.on_consumed(30).has_value());
  auto inc = w.on_consumed(20);
  REQUIRE(inc == 50u);
  REQUIRE(w.remaining() == 50);
  REQUIRE_FALSE(w.on_consumed(50 - 1).has_value());
  REQUIRE(w.on_consumed(1) == 50u);
  REQUIRE(w.remaining() == 100);
}

TEST_CASE("sender and receiver windows stay in step over a long transfer", "[window]") {
  // A producer sending in random-sized pieces never exceeds credit and never stalls while
  // the consumer keeps draining.
  const std::uint32_t size = 64 * 1024;
  SendWindow send(size);
  ReceiveWindow recv(size);
  std::uint64_t in_flight = 0, total = 0;
  std::uint32_t seed = 7;
  for (int i = 0; i < 100000; ++i) {
    seed = seed * 1103515245 + 12345;
    std::uint64_t want = (seed >> 8) % 9000 + 1;
    std::uint64_t n = std::min<std::uint64_t>(want, send.credit());
    if (n > 0) {
      send.consume(n);
      REQUIRE_FALSE(recv.on_received(n));
      in_flight += n;
      total += n;
    }
    // consume some of what arrived
    std::uint64_t eat = std::min<std::uint64_t>(in_flight, (seed >> 4) % 12000);
    in_flight -= eat;
    if (auto inc = recv.on_consumed(eat)) REQUIRE_FALSE(send.grant(*inc));
    REQUIRE(send.credit() + in_flight <= size);
  }
  REQUIRE(total > 100u * size);
}
