#include "bench/harness/observers.h"
#include "bench/harness/throughput.h"

namespace cnnb {

void ProgressObserver::after_step(const StepEvent& e) {
  if (seconds_since(last_) < 0.25 && e.step != e.steps) return;
  last_ = SteadyClock::now();
  const double seconds = e.tally.seconds;
  Progress p;
  p.epoch = e.epoch;
  p.epochs = epochs_;
  p.step = e.step;
  p.steps = e.steps;
  p.loss = e.tally.loss_sum / double(e.step);
  p.accuracy = double(e.tally.correct) / double(e.tally.images);
  p.elapsed = seconds;
  p.images_per_second = images_per_second(e.step, batch_, seconds);
  p.eta = seconds / double(e.step) * double(e.steps - e.step);
  fn_(p);
}

void ProgressObserver::before_evaluation(int epoch) {
  last_ = SteadyClock::now() - std::chrono::seconds(1);  // the next epoch's first step reports at once
  Progress p;
  p.epoch = epoch;
  p.epochs = epochs_;
  p.evaluating = true;
  fn_(p);
}

}  // namespace cnnb
