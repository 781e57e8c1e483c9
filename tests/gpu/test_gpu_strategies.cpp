// The strategies on 2 GPUs: allreduce (threads and nccl communicators, with and without buckets
// overlapped with backward), tower and param-avg equal single at the global batch, as on CPU replicas
// (tests/test_strategies.cpp); and the nccl communicator's mean and broadcast, plain and through the
// event handoff of an overlapped exchange. Without 2 usable GPUs every test reports SKIPPED.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/cuda/device_query.h"
#include "core/device.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/process_group.h"
#include "tests/strategy_run.h"

namespace cnnb {
namespace {

using test::relative_max_diff;
using test::run_strategy;
using test::StrategyRun;

constexpr double kTol = 1e-5;  // as on CPU replicas: max abs difference relative to max |param|

// Why these tests cannot run here, or "" when they can.
std::string without_two_gpus(bool need_nccl) {
  const int n = cuda_device_count();
  if (n < 2) return fmt::format("needs 2 CUDA GPUs, found {}{}", n, n == 0 ? ": " + cuda::cuda_environment().error : "");
#if !CNNB_HAVE_NCCL
  if (need_nccl) return "this build has no NCCL";
#endif
  (void)need_nccl;
  return "";
}

struct GpuCase {
  std::string strategy;
  CommKind comm;
  double bucket_mb;
  double momentum;
};

void PrintTo(const GpuCase& c, std::ostream* os) {
  *os << c.strategy << " comm=" << comm_name(c.comm) << " buckets=" << c.bucket_mb << " m=" << c.momentum;
}

class GpuEquivalence : public ::testing::TestWithParam<GpuCase> {
 protected:
  void SetUp() override {
    if (const std::string why = without_two_gpus(GetParam().comm == CommKind::nccl); !why.empty()) GTEST_SKIP() << why;
  }
};

// 2 GPUs at B/2 end where one GPU at B ends, on the same backend.
TEST_P(GpuEquivalence, TwoGpusAtShardBatchEqualOneGpuAtGlobalBatch) {
  const GpuCase& c = GetParam();
  StrategyRun ref;
  ref.backend = "cuda-naive";
  ref.devices = DeviceKind::cuda;
  ref.opt.momentum = c.momentum;
  const auto single = run_strategy(ref);

  StrategyRun run = ref;
  run.strategy = c.strategy;
  run.local_replicas = 2;
  run.comm = c.comm;
  run.options.bucket_mb = c.bucket_mb;
  const auto out = run_strategy(run);
  ASSERT_EQ(out.params.size(), 2u);
  for (int r = 0; r < 2; ++r) EXPECT_LE(relative_max_diff(out.params[size_t(r)], single.params[0]), kTol) << r;
  EXPECT_EQ(out.params[1], out.params[0]);
  for (const StepTimes& t : out.times) {
    EXPECT_EQ(t.exchange_bytes, double(single.params[0].size() * sizeof(float)));
    EXPECT_GT(t.exchange_busy, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Strategies, GpuEquivalence,
    ::testing::Values(GpuCase{"allreduce", CommKind::threads, 0, 0.9}, GpuCase{"allreduce", CommKind::nccl, 0, 0.9},
                      GpuCase{"allreduce", CommKind::threads, 4.0 / (1 << 20), 0.9},
                      GpuCase{"allreduce", CommKind::nccl, 4.0 / (1 << 20), 0.9},
                      GpuCase{"allreduce", CommKind::nccl, 64.0 / (1 << 20), 0.0}, GpuCase{"tower", CommKind::threads, 0, 0.9},
                      GpuCase{"param-avg", CommKind::threads, 0, 0.9}),
    [](const auto& info) {
      const GpuCase& c = info.param;
      return fmt::format("{}_{}_b{}_m{}", c.strategy == "param-avg" ? "param_avg" : c.strategy, comm_name(c.comm),
                         int(c.bucket_mb * (1 << 20) / 4), int(c.momentum * 10));
    });

// ---- the nccl communicator on its own

class NcclComm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = without_two_gpus(true); !why.empty()) GTEST_SKIP() << why;
    pg_ = make_single_process_group();
    for (int i = 0; i < 2; ++i) devs_.push_back(make_cuda_device(i));
    comm_ = make_communicator(CommKind::nccl, *pg_, {devs_[0].get(), devs_[1].get()}, CommOptions{60});
  }

  // Replica g holds x + 2g on its GPU: the mean, x + 1, is exact in float.
  std::vector<Buffer<float>> upload_pattern(int64_t n) {
    std::vector<Buffer<float>> b;
    for (int g = 0; g < 2; ++g) {
      std::vector<float> h(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k) h[size_t(k)] = float(k % 512) * 0.5f + float(2 * g);
      b.emplace_back(*devs_[size_t(g)], size_t(n));
      b.back().upload(h);
      devs_[size_t(g)]->synchronize();
    }
    return b;
  }
  static std::vector<float*> pointers(std::vector<Buffer<float>>& b, int64_t offset = 0) {
    return {b[0].data() + offset, b[1].data() + offset};
  }
  static void expect_mean(const std::vector<Buffer<float>>& b, int64_t n) {
    for (const auto& buf : b) {
      const std::vector<float> h = buf.to_host();
      for (int64_t k = 0; k < n; ++k) ASSERT_EQ(h[size_t(k)], float(k % 512) * 0.5f + 1.0f) << k;
    }
  }

  std::unique_ptr<ProcessGroup> pg_;
  std::vector<std::unique_ptr<Device>> devs_;
  std::unique_ptr<Communicator> comm_;
};

TEST_F(NcclComm, AllreduceMeanIsExactAndBroadcastCopiesReplicaZero) {
  const int64_t n = 100003;
  auto b = upload_pattern(n);
  comm_->allreduce_mean(pointers(b), n);
  expect_mean(b, n);
  std::vector<float> zero(static_cast<size_t>(n), 7.0f), one(static_cast<size_t>(n), -3.0f);
  b[0].upload(zero);
  b[1].upload(one);
  comm_->broadcast(pointers(b), n);
  EXPECT_EQ(b[1].to_host(), zero);
  EXPECT_EQ(b[0].to_host(), zero);
}

// The overlapped exchange's handoff: each bucket waits for the event its replica recorded after
// queuing the bucket's data, not for the whole stream.
TEST_F(NcclComm, MarkedBucketsGiveTheSameMeanAsOneCall) {
  const int64_t n = 70001, half = 35000;
  auto b = upload_pattern(n);
  comm_->prepare_marks(2);
  for (int i = 0; i < 2; ++i) comm_->mark_ready(i, 0);
  comm_->allreduce_mean_marked(pointers(b, half), n - half, 0);
  for (int i = 0; i < 2; ++i) comm_->mark_ready(i, 1);
  comm_->allreduce_mean_marked(pointers(b), half, 1);
  expect_mean(b, n);
}

}  // namespace
}  // namespace cnnb
