// What only a GPU can show of step timing and device memory: CUDA events at the phase boundaries train
// exactly as per-phase syncs do and their phases add up to the step's wall time; the driver's memory
// figures and the pinned host memory a device counts. On a machine without a usable GPU every test
// reports SKIPPED with the reason (the host-side logic runs in the CPU suite: tests/test_step_timing.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/device.h"
#include "core/model_spec.h"
#include "datasets/dataset.h"
#include "gpu_skip.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/process_group.h"
#include "strategies/replica.h"
#include "strategies/step_times.h"
#include "strategies/strategy.h"

namespace cnnb {
namespace {

constexpr const char* kModel = "conv3x3x8,relu,maxpool2,fc16,relu,fc4";
constexpr const char* kData = "synthetic:n=256,shape=1x12x12,classes=4,test=16";
constexpr uint64_t kSeed = 3;

struct GpuRun {
  std::vector<float> params;
  std::vector<StepTimes> times;
  std::vector<double> walls;
};

GpuRun train_on_gpu0(TimingMode mode, int steps) {
  const Dataset data = load_dataset(kData, kSeed);
  const ModelPlan plan = plan_model(parse_model(kModel), data.shape, data.classes);
  OptimizerConfig opt;
  opt.kind = OptimizerConfig::Kind::sgd;
  opt.lr = 0.05;
  DeviceList devices;
  devices.kind = DeviceKind::cuda;
  devices.ids = {0};
  constexpr int kBatch = 32;
  ReplicaSet rs(ReplicaSetup{plan, resolve_backend("cuda-naive"), opt, devices, 1, kBatch, 0, kSeed, Pipeline::direct, 2,
                             mode});
  const auto pg = make_single_process_group();
  const auto comm = make_communicator(CommKind::threads, *pg, rs.devices(), CommOptions{60});
  const auto single = make_strategy("single");
  single->setup(rs, *comm);
  const std::vector<int64_t> order = epoch_permutation(data.train.count(), kSeed, 1);
  GpuRun out;
  for (int s = 0; s < steps; ++s) {
    StepTimes t;
    const auto t0 = std::chrono::steady_clock::now();
    single->step(rs, *comm, GlobalBatch{data.train, data.shape, std::span(order.data() + s * kBatch, size_t(kBatch))}, t);
    out.walls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    out.times.push_back(t);
  }
  out.params = rs[0].params();
  return out;
}

TEST(GpuStepTiming, EventsTrainAsSyncAndTheirPhasesAddUpToTheWallTime) {
  if (const std::string why = test::without_gpus(1); !why.empty()) GTEST_SKIP() << why;
  const GpuRun events = train_on_gpu0(TimingMode::events, 6);
  const GpuRun sync = train_on_gpu0(TimingMode::sync, 6);
  EXPECT_EQ(events.params, sync.params);  // the same kernels in the same order; only the syncs differ
  for (size_t s = 0; s < events.times.size(); ++s) {
    const StepTimes& t = events.times[s];
    EXPECT_GT(t.forward, 0) << "step " << s;
    EXPECT_GT(t.backward, 0) << "step " << s;
    EXPECT_GT(t.h2d, 0) << "step " << s;
    EXPECT_LE(t.total(), events.walls[s] * 1.001) << "step " << s;
    EXPECT_GE(t.total(), events.walls[s] * 0.5) << "step " << s;
  }
}

TEST(GpuStepTiming, EventMarksTimeWorkQueuedBetweenThem) {
  if (const std::string why = test::without_gpus(1); !why.empty()) GTEST_SKIP() << why;
  const auto dev = make_cuda_device(0);
  const auto clock = dev->make_step_clock(3);
  Buffer<float> b(*dev, size_t(1) << 24);
  clock->mark(0);
  clock->mark(1);
  for (int i = 0; i < 20; ++i) b.zero();  // 64 MiB each
  clock->mark(2);
  dev->synchronize();
  EXPECT_GE(clock->seconds(0, 1), 0.0);
  EXPECT_GT(clock->seconds(1, 2), clock->seconds(0, 1));
  EXPECT_LT(clock->seconds(0, 2), 10.0);
}

TEST(GpuMemory, TheDriversFiguresAndThePinnedHostMemoryCounted) {
  if (const std::string why = test::without_gpus(1); !why.empty()) GTEST_SKIP() << why;
  const auto dev = make_cuda_device(0);
  const std::optional<DeviceMemoryUse> before = dev->memory_use();
  ASSERT_TRUE(before.has_value());
  EXPECT_GT(before->total, 0u);
  EXPECT_LE(before->used, before->total);
  EXPECT_LE(before->used_at_start, before->total);
  EXPECT_GT(before->used_at_start, 0u);  // the CUDA context at least
  EXPECT_EQ(before->pinned_host, 0u);
  {
    HostBuffer<float> pinned(*dev, 1000);
    HostBuffer<int32_t> more(*dev, 24);
    EXPECT_EQ(dev->memory_use()->pinned_host, 4000u + 96u);
    Buffer<float> big(*dev, size_t(64) << 20);  // 256 MiB: the driver's used figure must see it
    EXPECT_GE(dev->memory_use()->used, before->used + (size_t(200) << 20));
  }
  EXPECT_EQ(dev->memory_use()->pinned_host, 0u);
}

}  // namespace
}  // namespace cnnb
