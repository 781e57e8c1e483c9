#include "bench/harness/observers.h"

namespace cnnb {

namespace {

// Mean of each phase over the steps, in milliseconds.
std::vector<std::pair<std::string, float>> phase_means(std::span<const StepTimes> steps) {
  StepTimes sum;
  for (const StepTimes& t : steps) {
    sum.data += t.data, sum.h2d += t.h2d, sum.forward += t.forward, sum.backward += t.backward;
    sum.exchange += t.exchange, sum.update += t.update, sum.metrics += t.metrics, sum.numerics += t.numerics;
  }
  const double k = steps.empty() ? 0 : 1e3 / double(steps.size());
  return {{"time_ms/data", float(sum.data * k)},         {"time_ms/h2d", float(sum.h2d * k)},
          {"time_ms/forward", float(sum.forward * k)},   {"time_ms/backward", float(sum.backward * k)},
          {"time_ms/exchange", float(sum.exchange * k)}, {"time_ms/update", float(sum.update * k)},
          {"time_ms/metrics", float(sum.metrics * k)},   {"time_ms/numerics", float(sum.numerics * k)},
          {"time_ms/step", float(sum.total() * k)}};
}

}  // namespace

void TensorBoardObserver::after_step(const StepEvent& e) {
  writer_.scalar(e.global_step, "train/step_loss", float(e.step_loss()));
}

void TensorBoardObserver::after_epoch(const EpochEvent& e) {
  const EpochStats& es = e.stats;
  std::vector<std::pair<std::string, float>> v = {{"train/loss", float(es.train_loss)},
                                                  {"train/accuracy", float(es.train_accuracy)},
                                                  {"test/loss", float(es.test_loss)},
                                                  {"test/accuracy", float(es.test_accuracy)},
                                                  {"learning_rate", float(e.config.optimizer.lr)},
                                                  {"images_per_second", float(es.images_per_second)}};
  for (auto& p : phase_means(e.steps)) v.push_back(std::move(p));
  writer_.scalars(e.global_step, v);
}

}  // namespace cnnb
