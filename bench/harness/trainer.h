#pragma once
// Training one configuration on its replicas and processes, measured: the engine behind `cnnbench train`.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "model/optimizer.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "strategies/comm/communicator.h"
#include "strategies/devices.h"
#include "strategies/step_times.h"
#include "strategies/strategy.h"

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
  // Replicas and how they cooperate.
  std::string strategy = "single";
  std::string devices;          // per process: cpu:R, gpu:0,1, gpu:all, gpu:local; "" = one device of the backend's kind
  std::optional<CommKind> comm;  // empty: chosen for the strategy, devices and processes (auto_comm)
  StrategyOptions strategy_options;  // the strategy's own options given (strategies/strategy_options.h)
  double comm_timeout = 300;    // seconds one collective may take before the run fails instead of hanging
  // The watchdog always checks each step's loss and (CPU replicas) gradients for NaN/Inf; this also checks
  // every layer's forward output, and GPU replicas' gradients (bench/harness/watchdog.h).
  bool check_numerics = false;
  // How step phases are timed (strategies/step_times.h): marks on the device's stream, or a sync at the
  // end of every phase.
  TimingMode timing = TimingMode::events;
  // Data pipeline (datasets/loader.h): direct (the step builds and copies its batch) or prefetch (a loader
  // thread per replica builds and copies the next prefetch_depth batches while the steps compute).
  Pipeline pipeline = Pipeline::direct;
  int prefetch_depth = 2;
  // Models on disk and training curves.
  std::string init_weights;      // start from these safetensors weights instead of the seeded initialisation
  std::string save_weights;      // write the final parameters (replica 0) here as safetensors
  int64_t checkpoint_every = 0;  // global steps between checkpoints (0 = none); needs checkpoint_dir
  std::string checkpoint_dir;
  std::string resume;            // a checkpoint file, or a directory whose newest checkpoint to continue from
  std::string tensorboard_dir;   // TensorBoard event files go to tensorboard_dir/<run name>/
  std::string run_name;          // "" = made from the configuration (default_run_name)
};

// model-backend-strategy-rN-bB-optimizer-lrL-sS, usable as a directory name.
std::string default_run_name(const TrainConfig& cfg);

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
  std::map<std::string, std::string> conv_algorithms;  // cuDNN's choice per convolution geometry (cudnn backend)
  // Device memory of one replica, itemised, in bytes (the first local replica; all are alike).
  std::map<std::string, double> replica_memory;
  // What the driver says of the first local replica's GPU at the end of training (none on the CPU), and
  // that replica's page-locked host memory, itemised (empty on the CPU, which pins nothing).
  std::optional<DeviceMemoryUse> device_memory;
  std::map<std::string, double> pinned_host_memory;
  int threads = 1;                // per replica
  std::string devices;            // this process's devices, resolved: "cpu:2"
  int replicas = 1;               // world: processes x local replicas
  int local_replicas = 1;
  int processes = 1, rank = 0;    // only rank 0 prints and writes results
  std::string comm;               // communicator that ran ("threads", "mpi", "nccl")
  std::string process_group;      // "single process", "mpi (2 processes)"
  int exchange_calls = 0;         // communicator calls per exchange (allreduce buckets)
  std::vector<EpochStats> epochs;
  // Every training step, warm-up included (first config.warmup_steps). Under MPI, rank 0 holds for each
  // step the times of the rank whose step took longest.
  std::vector<StepTimes> steps;
  double train_seconds = 0;
  // The harness's own cost: wall time of this process's step loops (progress, watchdog, result
  // bookkeeping, checkpoints included) against the sum of the same steps' measured times.
  double loop_seconds = 0, loop_step_seconds = 0;
  std::string resumed_from;                // the checkpoint this run continued from
  int64_t resumed_at_step = 0;             // global step it held
  std::vector<std::string> checkpoints;    // files written
  std::string tensorboard_file;            // event file written
};

using ProgressFn = std::function<void(const Progress&)>;

// Throws InputError for bad configuration; runs the whole training otherwise. `processes` are the
// run's processes (open_process_group); the overload without it opens them itself.
TrainResult train(const TrainConfig& cfg, const Dataset& data, const ProgressFn& progress, ProcessGroup& processes);
TrainResult train(const TrainConfig& cfg, const Dataset& data, const ProgressFn& progress);

// Test-set loss and accuracy of given weights, outside training: the engine behind `cnnbench eval`.
struct EvalConfig {
  std::string model = "simple";
  std::string backend = "cpu-ref";
  std::map<std::string, std::string> kernels;
  std::string weights;     // safetensors file
  int batch = 256;
  int threads = 0;         // 0 = all cores
  int64_t test_limit = 0;  // 0 = the whole test set
};
struct EvalResult {
  std::string model_spec;
  int64_t images = 0;
  double loss = 0, accuracy = 0, seconds = 0;
};
EvalResult evaluate_weights(const EvalConfig& cfg, const Dataset& data);

// Checks the numbers and names of a configuration (batch, epochs, lr, strategy, ...) with messages
// naming the flag.
void validate(const TrainConfig& cfg);

// The run's processes: MPI's when --comm mpi is asked for or a launcher (mpirun) started this process,
// otherwise just this one.
std::unique_ptr<ProcessGroup> open_process_group(const TrainConfig& cfg);

// How a configuration spreads over devices and processes, checked before any data is loaded:
// InputError for bad --devices, a strategy that cannot take this many replicas, a batch that does not
// split evenly, or a communicator that cannot connect these replicas.
struct ParallelPlan {
  DeviceList devices;  // this process's
  int world = 1;       // replicas in all processes
  int threads = 1;     // per CPU replica
  CommKind comm = CommKind::threads;
};
ParallelPlan plan_parallel(const TrainConfig& cfg, const ProcessGroup& processes);

}  // namespace cnnb
