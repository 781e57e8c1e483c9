#include "strategies/comm/deadline.h"

#include <thread>

#include "core/error.h"

namespace cnnb {

void poll_until_done(const std::function<PollState()>& query, const Deadline& deadline, std::string_view what,
                     const std::function<void()>& on_failure, std::chrono::microseconds pause) {
  for (;;) {
    PollState s;
    try {
      s = query();
    } catch (...) {
      on_failure();
      throw;
    }
    if (s.kind == PollState::done) return;
    if (s.kind == PollState::failed) {
      on_failure();
      fail("{} failed: {}", what, s.error);
    }
    // Checked after a look, so that work done by the deadline still counts as done.
    if (deadline.passed()) {
      on_failure();
      fail("{} did not complete within {} s: another rank has died or stalled (--comm-timeout)", what,
           deadline.seconds());
    }
    std::this_thread::sleep_for(pause);
  }
}

}  // namespace cnnb
