#pragma once
// What watches a training run without steering its steps: progress, the watchdog, checkpoints,
// TensorBoard. A Run calls its observers in the order they were added. An observer that calls a
// collective (the watchdog's agreement) must be added on every process, in the same order; one that only
// prints or writes is added on rank 0 alone. An observer stops the run by throwing.
#include <cstdint>
#include <span>

#include "bench/harness/trainer.h"
#include "strategies/replica.h"
#include "strategies/step_times.h"

namespace cnnb {

// This process's running sums over the current epoch's steps.
struct EpochTally {
  double loss_sum = 0;  // over steps, of this process's mean loss
  int64_t correct = 0, images = 0;
  double seconds = 0;   // measured step time
};

struct StepEvent {
  int epoch = 0;
  int64_t step = 0;         // within the epoch, 1-based: the step just taken
  int64_t steps = 0;        // in the epoch
  int64_t global_step = 0;  // 1-based, over epochs
  const ShardStats& stats;  // this process's
  const StepTimes& times;
  const EpochTally& tally;
  const TrainResult& result;  // the run so far: finished epochs, every step's times
  ReplicaSet& replicas;
  double step_loss() const { return stats.loss_sum / double(stats.images); }
};

struct EpochEvent {
  const EpochStats& stats;  // evaluated, summed over processes
  int64_t global_step = 0;
  std::span<const StepTimes> steps;  // this epoch's (the slowest rank's under MPI)
  const TrainConfig& config;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void before_step() {}
  virtual void after_step(const StepEvent&) {}
  // After an epoch's last step, before its evaluation.
  virtual void before_evaluation(int /*epoch*/) {}
  virtual void after_epoch(const EpochEvent&) {}
};

}  // namespace cnnb
