#include "strategies/step_times.h"

#include "core/error.h"

namespace cnnb {

TimingMode parse_timing_mode(std::string_view text, std::string_view flag) {
  if (text == "events") return TimingMode::events;
  if (text == "sync") return TimingMode::sync;
  fail_input("{} '{}' is not a timing mode; expected events (phase marks on the device's stream) or sync (a sync at "
             "the end of every phase)",
             flag, text);
}

std::string_view timing_mode_name(TimingMode m) { return m == TimingMode::sync ? "sync" : "events"; }

}  // namespace cnnb
