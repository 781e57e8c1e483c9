// The strategies on GPU replicas: allreduce (threads and nccl communicators, with and without buckets
// overlapped with backward), tower and param-avg equal single at the global batch on the same backend,
// as on CPU replicas (tests/test_strategies.cpp); independent replicas are each a single run on their
// shard; and the nccl communicator's mean and broadcast, plain and through the event handoff of an
// overlapped exchange.
//
// One GPU is enough for everything but NCCL: two replicas share GPU 0 (two streams, two sets of
// library handles), which exercises the same strategy and host-staging code as two GPUs. NCCL does not
// support two ranks of one communicator on the same device (NCCL user guide, "Creating a
// Communicator"; since 2.5 ncclCommInit* returns ncclInvalidUsage, "Duplicate GPU detected"), so the
// nccl cases need two GPUs. Without the GPUs a test needs it reports SKIPPED with the reason.
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/device.h"
#include "datasets/dataset.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/process_group.h"
#include "tests/gpu/gpu_skip.h"
#include "tests/strategy_run.h"

namespace cnnb {
namespace {

using test::NeedsNccl;
using test::relative_max_diff;
using test::run_strategy;
using test::StrategyRun;
using test::without_gpus;

constexpr double kTol = 1e-5;  // as on CPU replicas: max abs difference relative to max |param|
// cuBLAS and cuDNN choose their kernels (split-K, convolution algorithm) by problem size, and a replica's
// batch is half of single's, so the two runs may also round differently inside each op. A strategy
// mistake (a missing average, a stale gradient, a replica left out) moves the parameters by more than
// 1e-3 of their scale.
constexpr double kLibraryTol = 1e-4;

struct GpuCase {
  std::string strategy;
  CommKind comm;
  double bucket_mb;
  double momentum;
  std::vector<int> gpus;  // one ordinal per replica
  std::string backend = "cuda-naive";
  double tol = kTol;
  int distinct_gpus() const { return int(std::set<int>(gpus.begin(), gpus.end()).size()); }
};

void PrintTo(const GpuCase& c, std::ostream* os) {
  *os << c.strategy << " comm=" << comm_name(c.comm) << " buckets=" << c.bucket_mb << " m=" << c.momentum
      << " gpus=" << fmt::format("{}", fmt::join(c.gpus, ",")) << " " << c.backend;
}

std::string case_name(const ::testing::TestParamInfo<GpuCase>& info) {
  const GpuCase& c = info.param;
  std::string backend = c.backend;
  for (char& ch : backend)
    if (ch == '-') ch = '_';
  return fmt::format("{}_{}_b{}_m{}_gpu{}_{}", c.strategy == "param-avg" ? "param_avg" : c.strategy, comm_name(c.comm),
                     int(c.bucket_mb * (1 << 20) / 4), int(c.momentum * 10), fmt::join(c.gpus, ""), backend);
}

class GpuEquivalence : public ::testing::TestWithParam<GpuCase> {
 protected:
  void SetUp() override {
    const GpuCase& c = GetParam();
    if (const std::string why = without_gpus(c.distinct_gpus(), c.comm == CommKind::nccl ? NeedsNccl::yes : NeedsNccl::no);
        !why.empty())
      GTEST_SKIP() << why;
  }
};

// R replicas at B/R end where one replica at B ends, on the same backend and GPU 0.
TEST_P(GpuEquivalence, ReplicasAtShardBatchEqualSingleAtGlobalBatch) {
  const GpuCase& c = GetParam();
  StrategyRun ref;
  ref.backend = c.backend;
  ref.devices = DeviceKind::cuda;
  ref.opt.momentum = c.momentum;
  const auto single = run_strategy(ref);
  // The model has moved, so equality below says something.
  const Dataset& d = test::strategy_data();
  const std::vector<float> init =
      init_params(plan_model(parse_model(test::kStrategyModel), d.shape, d.classes), test::kStrategySeed);
  ASSERT_GT(relative_max_diff(single.params[0], init), 10 * kLibraryTol);

  StrategyRun run = ref;
  run.strategy = c.strategy;
  run.local_replicas = int(c.gpus.size());
  run.gpus = c.gpus;
  run.comm = c.comm;
  run.options.set("bucket_mb", c.bucket_mb);
  const auto out = run_strategy(run);
  ASSERT_EQ(out.params.size(), c.gpus.size());
  for (size_t r = 0; r < out.params.size(); ++r) EXPECT_LE(relative_max_diff(out.params[r], single.params[0]), c.tol) << r;
  for (size_t r = 1; r < out.params.size(); ++r) EXPECT_EQ(out.params[r], out.params[0]) << r;
  for (const StepTimes& t : out.times) {
    EXPECT_EQ(t.exchange_bytes, double(single.params[0].size() * sizeof(float)));
    EXPECT_GT(t.exchange_busy, 0);
  }
}

const std::vector<int> kOneGpu = {0, 0}, kTwoGpus = {0, 1};
constexpr double kFourFloats = 4.0 / (1 << 20);  // in MiB: a bucket per tensor or so

INSTANTIATE_TEST_SUITE_P(
    OneGpu, GpuEquivalence,
    ::testing::Values(GpuCase{"allreduce", CommKind::threads, 0, 0.9, kOneGpu},
                      GpuCase{"allreduce", CommKind::threads, kFourFloats, 0.9, kOneGpu},
                      GpuCase{"allreduce", CommKind::threads, 0, 0.0, kOneGpu, "cuda-gemm", kLibraryTol},
                      GpuCase{"allreduce", CommKind::threads, 0, 0.9, kOneGpu, "cudnn", kLibraryTol},
                      GpuCase{"tower", CommKind::threads, 0, 0.9, kOneGpu},
                      GpuCase{"tower", CommKind::threads, 0, 0.9, kOneGpu, "cudnn", kLibraryTol},
                      GpuCase{"param-avg", CommKind::threads, 0, 0.9, kOneGpu},
                      GpuCase{"param-avg", CommKind::threads, 0, 0.0, kOneGpu, "cuda-gemm", kLibraryTol}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    TwoGpus, GpuEquivalence,
    ::testing::Values(GpuCase{"allreduce", CommKind::threads, 0, 0.9, kTwoGpus},
                      GpuCase{"allreduce", CommKind::nccl, 0, 0.9, kTwoGpus},
                      GpuCase{"allreduce", CommKind::threads, kFourFloats, 0.9, kTwoGpus},
                      GpuCase{"allreduce", CommKind::nccl, kFourFloats, 0.9, kTwoGpus},
                      GpuCase{"allreduce", CommKind::nccl, 64.0 / (1 << 20), 0.0, kTwoGpus},
                      GpuCase{"allreduce", CommKind::nccl, 0, 0.9, kTwoGpus, "cudnn", kLibraryTol},
                      GpuCase{"tower", CommKind::threads, 0, 0.9, kTwoGpus},
                      GpuCase{"param-avg", CommKind::threads, 0, 0.9, kTwoGpus}),
    case_name);

// ---- independent: no exchange; each replica is exactly a single run on its own shard of every batch

class GpuIndependent : public ::testing::TestWithParam<std::vector<int>> {
 protected:
  void SetUp() override {
    const int distinct = int(std::set<int>(GetParam().begin(), GetParam().end()).size());
    if (const std::string why = without_gpus(distinct); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_P(GpuIndependent, EachReplicaIsASingleRunOnItsShard) {
  StrategyRun run;
  run.strategy = "independent";
  run.backend = "cuda-naive";
  run.devices = DeviceKind::cuda;
  run.local_replicas = 2;
  run.gpus = GetParam();
  run.opt.momentum = 0.9;
  const auto out = run_strategy(run);
  ASSERT_EQ(out.params.size(), 2u);
  EXPECT_EQ(out.exchange_calls, 0);
  for (const StepTimes& t : out.times) EXPECT_EQ(t.exchange_bytes, 0);
  EXPECT_GT(relative_max_diff(out.params[0], out.params[1]), 100 * kTol);

  const std::vector<int64_t> order = epoch_permutation(test::strategy_data().train.count(), test::kStrategySeed, 1);
  for (int r = 0; r < 2; ++r) {
    StrategyRun alone = run;
    alone.strategy = "single";
    alone.local_replicas = 1;
    alone.gpus = {run.gpus[size_t(r)]};
    alone.batch = run.batch / 2;
    alone.batch_of = [&](int s) {
      const auto first = order.begin() + s * run.batch + r * alone.batch;
      return std::vector<int64_t>(first, first + alone.batch);
    };
    // cuda-naive sums in a fixed order per thread: the same numbers on the same GPU model, bit for bit.
    EXPECT_EQ(run_strategy(alone).params[0], out.params[size_t(r)]) << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, GpuIndependent, ::testing::Values(kOneGpu, kTwoGpus),
                         [](const auto& info) { return info.param[0] == info.param[1] ? "OneGpu" : "TwoGpus"; });

// ---- the nccl communicator on its own

class NcclComm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = without_gpus(2, NeedsNccl::yes); !why.empty()) GTEST_SKIP() << why;
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
