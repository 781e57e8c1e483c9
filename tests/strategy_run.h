#pragma once
// Runs a few steps of a strategy on a small model and synthetic data, straight through the strategy
// API (no epochs, no evaluation), and hands back every local replica's parameters: what the
// strategies' equivalence tests compare, in one process (tests/test_strategies.cpp) and under mpirun
// (tests/mpi/).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/model_spec.h"
#include "datasets/dataset.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/process_group.h"
#include "strategies/replica.h"
#include "strategies/strategy.h"

namespace cnnb::test {

// Tiny but not trivial: a conv with bias, a pool and two dense layers (all parameter kinds).
inline constexpr const char* kStrategyModel = "conv3x3x4,relu,maxpool2,fc8,relu,fc4";
inline constexpr const char* kStrategyData = "synthetic:n=480,shape=1x10x10,classes=4,test=16";
inline constexpr uint64_t kStrategySeed = 5;

inline const Dataset& strategy_data() {
  static const Dataset d = load_dataset(kStrategyData, kStrategySeed);
  return d;
}

struct StrategyRun {
  std::string strategy = "single";
  int local_replicas = 1;
  int batch = 24;  // global
  int steps = 6;
  OptimizerConfig opt = [] {
    OptimizerConfig o;
    o.kind = OptimizerConfig::Kind::sgd;
    o.lr = 0.1;
    return o;
  }();
  StrategyOptions options;
  std::string backend = "cpu-ref";
  DeviceKind devices = DeviceKind::cpu;  // cuda: GPUs 0..local_replicas-1 unless `gpus` says otherwise (tests/gpu/)
  std::vector<int> gpus;                 // cuda: each local replica's GPU ordinal; {0, 0} = two replicas on GPU 0
  CommKind comm = CommKind::threads;
  // The global batch of step s (image indices); default: consecutive slices of epoch 1's permutation.
  std::function<std::vector<int64_t>(int s)> batch_of;
};

struct RunOutput {
  std::vector<std::vector<float>> params;  // per local replica, after settle()
  std::vector<StepTimes> times;
  std::vector<ShardStats> stats;
  int exchange_calls = 0;
};

inline RunOutput run_strategy(const StrategyRun& run, ProcessGroup& pg) {
  const Dataset& data = strategy_data();
  const ModelPlan plan = plan_model(parse_model(kStrategyModel), data.shape, data.classes);
  DeviceList devices;
  devices.kind = run.devices;
  for (int i = 0; i < run.local_replicas; ++i) devices.ids.push_back(i);
  if (run.devices == DeviceKind::cuda && !run.gpus.empty()) devices.ids = run.gpus;
  EXPECT_EQ(devices.count(), run.local_replicas) << "StrategyRun::gpus must name one GPU per local replica";
  const int world = pg.size() * run.local_replicas;
  ReplicaSet rs(ReplicaSetup{plan, resolve_backend(run.backend), run.opt, devices, 1, run.batch / world,
                             pg.rank() * run.local_replicas, kStrategySeed});
  const auto comm = make_communicator(run.comm, pg, rs.devices(), CommOptions{60});
  const auto strategy = make_strategy(run.strategy, run.options);
  strategy->setup(rs, *comm);
  const std::vector<int64_t> order = epoch_permutation(data.train.count(), kStrategySeed, 1);
  RunOutput out;
  for (int s = 0; s < run.steps; ++s) {
    const std::vector<int64_t> idx =
        run.batch_of ? run.batch_of(s)
                     : std::vector<int64_t>(order.begin() + s * run.batch, order.begin() + (s + 1) * run.batch);
    StepTimes t;
    out.stats.push_back(strategy->step(rs, *comm, GlobalBatch{data.train, data.shape, idx}, t));
    out.times.push_back(t);
  }
  strategy->settle(rs, *comm);
  for (int i = 0; i < rs.size(); ++i) out.params.push_back(rs[i].params());
  out.exchange_calls = strategy->exchange_calls();
  return out;
}

inline RunOutput run_strategy(const StrategyRun& run) {
  const auto pg = make_single_process_group();
  return run_strategy(run, *pg);
}

// max |a - b| / max |b|: the equivalence measure (float tolerance relative to the parameters' scale).
inline double relative_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return diff / scale;
}

}  // namespace cnnb::test
