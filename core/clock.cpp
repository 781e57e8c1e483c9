#include "core/clock.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace cnnb {

std::string utc_now(UtcStyle style) {
  const auto t = fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
  return style == UtcStyle::iso8601 ? fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", t) : fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", t);
}

}  // namespace cnnb
