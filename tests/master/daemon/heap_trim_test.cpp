#include <catch2/catch.hpp>

#include "daemon/heap_trim.hpp"

using remsh::master::HeapTrim;

TEST_CASE("heap trim: once after a burst of handshakes has had a quiet second", "[heap_trim]") {
  HeapTrim trim;
  REQUIRE_FALSE(trim.tick());  // at rest: nothing to give back

  trim.note_transient_work();
  trim.note_transient_work();
  REQUIRE_FALSE(trim.tick());  // the burst may go on
  REQUIRE(trim.tick());        // a second without handshakes: trimmed
  REQUIRE_FALSE(trim.tick());  // and only once
  REQUIRE_FALSE(trim.tick());

  // A burst that lasts several seconds is trimmed after it ends, not during it.
  for (int second = 0; second < 5; ++second) {
    trim.note_transient_work();
    REQUIRE_FALSE(trim.tick());
  }
  REQUIRE(trim.tick());
  REQUIRE_FALSE(trim.tick());
}
