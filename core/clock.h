#pragma once
// Time helpers shared by every layer: durations on the steady clock, timestamps of the system clock in UTC.
#include <chrono>
#include <string>

namespace cnnb {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_between(SteadyClock::time_point t0, SteadyClock::time_point t1) {
  return std::chrono::duration<double>(t1 - t0).count();
}
inline double seconds_since(SteadyClock::time_point t0) { return seconds_between(t0, SteadyClock::now()); }

// Now in UTC, to the second: "2026-12-07T15:04:05Z" (ISO 8601, for records and file contents) or
// "2026-12-07 15:04:05 UTC" (readable, for report pages).
enum class UtcStyle { iso8601, readable };
std::string utc_now(UtcStyle style = UtcStyle::iso8601);

}  // namespace cnnb
