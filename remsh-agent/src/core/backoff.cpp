#include "core/backoff.hpp"

#include <algorithm>

namespace remsh::agent {

std::chrono::milliseconds Backoff::next(double unit) {
  using std::chrono::milliseconds;
  // initial * 2^attempt, capped, computed in double to avoid overflow after many attempts.
  double base = static_cast<double>(policy_.initial.count());
  const double cap = static_cast<double>(policy_.max.count());
  for (std::uint32_t i = 0; i < attempt_ && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  if (attempt_ < 64) ++attempt_;
  unit = std::clamp(unit, 0.0, 1.0);
  const double spread = base * policy_.jitter * (2.0 * unit - 1.0);
  const double delay = std::clamp(base + spread, 0.0, cap);
  return milliseconds(static_cast<std::int64_t>(delay));
}

}  // namespace remsh::agent
