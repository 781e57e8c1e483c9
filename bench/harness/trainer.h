#pragma once
// Training one configuration on one replica, measured: the engine behind `cnnbench train`.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/optimizer.h"
#include "datasets/dataset.h"

namespace cnnb {

struct TrainConfig {
  std::string model = "simple";
  std::string dataset = "fashion-mnist";
  std::string backend = "cpu-ref";
  std::map<std::string, std::string> kernels;  // per-op overrides
  OptimizerConfig optimizer;
  int batch = 64;
  int epochs = 1;
  int64_t steps_per_epoch = 0;  // 0 = a full pass over the training set (the last partial batch is dropped)
  uint64_t seed = 42;
  int threads = 0;              // CPU threads per replica; 0 = all cores (cpu-ref always uses 1)
  int warmup_steps = 5;         // excluded from the step-time statistics
  int64_t test_limit = 0;       // evaluate on the first N test images only (0 = all); for quick runs and tests
};

struct EpochStats {
  int epoch = 0;
  int64_t steps = 0;
  double train_loss = 0, train_accuracy = 0;  // means over the epoch's batches
  double test_loss = 0, test_accuracy = 0;
  double seconds = 0;       // training wall time of the epoch (evaluation excluded)
  double eval_seconds = 0;
  double images_per_second = 0;
  double wall_seconds = 0;  // since the start of training, at the end of this epoch's evaluation
};

// Per-step phase times in seconds (DESIGN.md §7); exchange is 0 for a single replica.
struct StepTimes {
  double data = 0, h2d = 0, forward = 0, backward = 0, exchange = 0, update = 0;
  double total() const { return data + h2d + forward + backward + exchange + update; }
};

struct Progress {
  int epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;  // within the epoch
  double loss = 0, accuracy = 0;  // running means of this epoch
  double images_per_second = 0;
  double elapsed = 0, eta = 0;    // seconds, this epoch
  bool evaluating = false;
};

struct TrainResult {
  TrainConfig config;
  std::string model_spec;
  int64_t param_count = 0;
  double forward_macs_per_image = 0;
  std::vector<std::string> layers;  // "conv1 conv3x3x32 1x28x28 -> 32x26x26"
  std::vector<std::pair<std::string, std::string>> ops;  // op -> variant that ran
  std::vector<std::string> fallbacks;
  int threads = 1;
  std::vector<EpochStats> epochs;
  std::vector<StepTimes> steps;  // every training step, warm-up included (first config.warmup_steps)
  double train_seconds = 0;
};

using ProgressFn = std::function<void(const Progress&)>;

// Throws InputError for bad configuration; runs the whole training otherwise.
TrainResult train(const TrainConfig& cfg, const Dataset& data, const ProgressFn& progress);

// Checks the numbers of a configuration (batch, epochs, lr, ...) with messages naming the flag.
void validate(const TrainConfig& cfg);

}  // namespace cnnb
