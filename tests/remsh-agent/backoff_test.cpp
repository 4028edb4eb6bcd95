// Backoff: the reconnect schedule stays within its bounds and resets only after a healthy
// connection.
#include "core/backoff.hpp"

#include <catch2/catch.hpp>

using namespace remsh::agent;
using namespace std::chrono_literals;

TEST_CASE("backoff: without jitter the delay doubles from 0.5 s up to 30 s", "[backoff]") {
  Backoff b;
  const long expected[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (long ms : expected) CHECK(b.next(0.5).count() == ms);
  for (int i = 0; i < 200; ++i) CHECK(b.next(0.5).count() == 30000);  // no overflow, ever
}

TEST_CASE("backoff: jitter stays within plus or minus 20 percent and never above 30 s", "[backoff]") {
  for (double unit : {0.0, 0.25, 0.999999, 1.0}) {
    Backoff b;
    double base = 500;
    for (int i = 0; i < 12; ++i) {
      const auto d = static_cast<double>(b.next(unit).count());
      CHECK(d >= base * 0.8 - 1);
      CHECK(d <= std::min(base * 1.2, 30000.0) + 1);
      CHECK(d <= 30000);
      base = std::min(base * 2, 30000.0);
    }
  }
}

TEST_CASE("backoff: a connection longer than 10 s starts the schedule over", "[backoff]") {
  Backoff b;
  for (int i = 0; i < 5; ++i) b.next(0.5);
  b.connection_ended(3s);  // short: a failing master (or a revoked agent) keeps backing off
  CHECK(b.next(0.5).count() == 16000);
  b.connection_ended(11s);
  CHECK(b.next(0.5).count() == 500);
  CHECK(b.next(0.5).count() == 1000);
}

TEST_CASE("backoff: a short connection that did work starts the schedule over", "[backoff]") {
  Backoff b;
  for (int i = 0; i < 5; ++i) b.next(0.5);
  b.connection_ended(50ms, false);  // welcomed, then dropped before anything came: keep climbing
  CHECK(b.next(0.5).count() == 16000);
  b.connection_ended(50ms, true);  // frames arrived: the network cut a working session
  CHECK(b.next(0.5).count() == 500);
}
