#pragma once
// Replicas: one model copy on one device, each driven by its own persistent host thread. A replica
// set is this process's replicas; world replica g (rank * local + i) trains on shard g of every
// global batch, so R replicas at B/R see exactly the images `single` sees at B.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "core/device.h"
#include "core/model_spec.h"
#include "model/network.h"
#include "model/optimizer.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "strategies/devices.h"
#include "strategies/step_times.h"
#include "strategies/worker.h"

namespace cnnb {

struct ReplicaSetup {
  ModelPlan plan;
  OpSet<float> ops;
  OptimizerConfig optimizer;
  DeviceList devices;      // this process's devices, one replica each
  int threads = 1;         // OpenMP/BLAS threads of each CPU replica
  int shard = 1;           // images per replica per step: global batch / world replicas
  int first_replica = 0;   // world index of local replica 0
  uint64_t seed = 0;       // same seed => the same initial parameters on every replica
  Pipeline pipeline = Pipeline::direct;
  int prefetch_depth = 2;  // slots of each replica's BatchLoader (prefetch)
  TimingMode timing = TimingMode::events;
};

class Replica {
 public:
  Replica(const ReplicaSetup& s, int local_index);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  Device& device() { return *dev_; }
  Network<float>& net() { return net_; }
  Optimizer<float>& optimizer() { return opt_; }
  int local_index() const { return local_; }
  std::vector<float> params() const;  // host copy

  // Host staging of this replica's shard (direct pipeline, evaluation).
  std::vector<float> x;
  std::vector<int32_t> y;
  BatchLoader* loader() { return loader_.get(); }  // null in the direct pipeline
  // compute()'s bookkeeping, in the device's host memory (pinned on a GPU, so that their copies queue
  // behind the step's work): the shard's per-image losses and its logits (shard x classes).
  HostBuffer<float>& losses() { return losses_; }
  HostBuffer<float>& logits() { return logits_; }
  size_t output_host_bytes() const { return losses_.bytes() + logits_.bytes(); }
  // Marks at compute()'s phase boundaries (ReplicaSet::kMarks): the device's own under events timing,
  // host timestamps under sync timing.
  StepClock& clock() { return *clock_; }

 private:
  int local_;
  std::unique_ptr<Device> dev_;
  Network<float> net_;
  Optimizer<float> opt_;
  HostBuffer<float> losses_, logits_;    // after dev_: freed before it
  std::unique_ptr<StepClock> clock_;     // after dev_: its events are destroyed before the device
  std::unique_ptr<BatchLoader> loader_;  // after dev_: stopped and freed before it
};

// Loss and accuracy of one step over this process's replicas (the timed `metrics` phase).
struct ShardStats {
  double loss_sum = 0;  // sum over images of the per-image loss
  int64_t correct = 0;
  int64_t images = 0;
};

class ReplicaSet {
 public:
  // Builds every replica on its own thread (so a GPU is current there) with identical parameters.
  explicit ReplicaSet(ReplicaSetup setup);
  ~ReplicaSet();
  ReplicaSet(const ReplicaSet&) = delete;
  ReplicaSet& operator=(const ReplicaSet&) = delete;

  int size() const { return int(replicas_.size()); }
  Replica& operator[](int i) { return *replicas_[size_t(i)]; }
  const ReplicaSetup& setup() const { return setup_; }
  int64_t param_count() const { return setup_.plan.param_count; }
  std::vector<Device*> devices();
  std::vector<float*> params();
  std::vector<float*> grads();

  // Runs fn on every replica at once, each on its own thread; waits for all, rethrows the first error.
  void run_all(const std::function<void(Replica&)>& fn);
  void run_on(int i, const std::function<void(Replica&)>& fn);

  // The prefetch pipeline: every replica's loader starts building its shards of steps
  // [first_step, steps) of the epoch's `order` (global batches of `batch`), and compute() must then be
  // called for exactly those batches in that order. `split` must outlive end_epoch(). No-op for direct.
  void begin_epoch(const Split& split, Shape shape, std::span<const int64_t> order, int batch, int64_t first_step,
                   int64_t steps);
  // Stops and joins the loaders; also done by the next begin_epoch and by the destructor.
  void end_epoch() noexcept;

  // Data, H2D, forward, backward and metrics (the loss and accuracy) of every replica on its shard of
  // `batch` (the global batch's image indices into `split`). t gets the slowest replica's phases, plus the
  // wait for the last replica to finish added to `data`, so that the phases add up to the wall time. With
  // prefetch, `data` is the wait for the loader and `h2d` is 0 (the copy happened off the step's critical
  // path). A forward hook's time (--check-numerics) is `numerics`, not `forward`.
  // Events timing: one device sync per replica, at the end; sync timing: one per phase. A device error
  // surfacing at a sync names the phase(s) and the last op queued (core/stream_fault.h).
  // Allocates nothing after the first call. hooks, if not empty: one per replica, handed to its backward.
  ShardStats compute(const Split& split, Shape shape, std::span<const int64_t> batch, StepTimes& t,
                     std::span<BackwardHook* const> hooks = {});
  // Every replica's own optimizer on its own gradients, then one sync; t.update = wall time.
  void update(StepTimes& t);

  // compute()'s marks: after the data phase, after the upload, after forward, after backward.
  static constexpr int kMarks = 4;

 private:
  struct ReplicaStep {
    StepTimes t;
    std::chrono::steady_clock::time_point end;
    double loss_sum = 0;
    int64_t correct = 0;
  };
  struct ComputeInput;
  void compute_replica(int i, const ComputeInput& in);
  static void score(const float* losses, const float* logits, const int32_t* labels, int n, int classes,
                    ReplicaStep& out);

  ReplicaSetup setup_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::vector<ReplicaStep> step_results_;  // compute()'s, one per replica, allocated once
};

}  // namespace cnnb
