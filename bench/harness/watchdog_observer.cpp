#include <fmt/format.h>

#include "bench/harness/observers.h"

namespace cnnb {

void WatchdogObserver::after_step(const StepEvent& e) {
  if (const std::string bad = Watchdog::agree(pg_, watchdog_.check(e.step_loss())); !bad.empty())
    throw TrainingDiverged(fmt::format("training diverged at step {} (epoch {}, step {} of {}): {}; try a smaller --lr",
                                       e.global_step, e.epoch, e.step, e.steps, bad),
                           e.epoch, e.step, e.global_step, e.result);
}

}  // namespace cnnb
