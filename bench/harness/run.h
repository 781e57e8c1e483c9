#pragma once
// One training run in four stages. Plan: everything that can be refused (devices, processes, model,
// backend), before anything is built. Build: the replicas, the communicator, the strategy and a resumed
// checkpoint's state. Loop: epochs of steps, each epoch evaluated, the observers told after every step
// and epoch. Finish: what the run used (memory, cuDNN's choices) and the saved weights.
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "bench/harness/checkpoint.h"
#include "bench/harness/run_observer.h"
#include "bench/harness/trainer.h"
#include "core/clock.h"
#include "core/model_spec.h"

namespace cnnb {

class Run {
 public:
  Run(const TrainConfig& cfg, const Dataset& data, ProcessGroup& pg);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run();

  // Called in the order added; the observer must outlive the run.
  void observe(RunObserver& o) { observers_.push_back(&o); }
  // The loop and the finish; once.
  TrainResult run();

  // What a checkpoint of this run must match to continue it.
  nlohmann::json checkpoint_fingerprint() const;
  ReplicaSet& replicas() { return *rs_; }

 private:
  void resume();
  void run_epoch(int epoch);
  EpochStats close_epoch(int epoch, const EpochTally& tally, size_t first_step);
  void record_memory();
  void save_weights_if_asked();

  const TrainConfig cfg_;
  const Dataset& data_;
  ProcessGroup& pg_;
  ParallelPlan pp_;
  ModelPlan plan_;
  OpSet<float> ops_;
  std::unique_ptr<ReplicaSet> rs_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Strategy> strategy_;
  int64_t steps_ = 0;  // per epoch
  int64_t global_step_ = 0;
  CheckpointState start_;  // where a resumed run starts; epoch 1, step 0 otherwise
  SteadyClock::time_point start_time_;
  std::vector<RunObserver*> observers_;
  TrainResult r_;
};

}  // namespace cnnb
