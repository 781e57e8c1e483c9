// The strategies across processes, run by ctest as `mpirun --oversubscribe -np 2 cnnbench-mpi-tests`:
// 2 ranks x 1 and x 2 local replicas equal single at the global batch, every rank ends with the same
// model, the mpi communicator's mean is exact where it can be, and a rank that does not arrive makes
// the other fail with a message instead of hanging (MpiTimeout, run as a test of its own); allreduce
// buckets overlapped with backward hold the same equivalence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "tests/strategy_run.h"

namespace cnnb {
namespace {

using ::testing::HasSubstr;
using test::relative_max_diff;
using test::run_strategy;
using test::StrategyRun;

constexpr double kTol = 1e-5;

// One process group for the whole binary: MPI lives until exit.
ProcessGroup& world() {
  static const std::unique_ptr<ProcessGroup> pg = make_mpi_process_group(60);
  return *pg;
}

// Rank 0's copy of v, on every rank.
std::vector<float> from_rank0(std::vector<float> v) {
  world().broadcast(std::as_writable_bytes(std::span(v)), 0);
  return v;
}

TEST(Mpi, RunsOnTwoRanks) {
  ASSERT_EQ(world().size(), 2) << "run under mpirun -np 2";
  EXPECT_EQ(world().local_size(), 2);  // both on this host
  double v[2] = {1.0 + world().rank(), 10.0};
  world().allreduce_sum(std::span(v));
  EXPECT_EQ(v[0], 3.0);
  EXPECT_EQ(v[1], 20.0);
  const double mine[3] = {double(world().rank()), 0.5, -1.0};
  const std::vector<double> all = world().gather(mine);
  if (world().root())
    EXPECT_EQ(all, (std::vector<double>{0, 0.5, -1, 1, 0.5, -1}));
  else
    EXPECT_TRUE(all.empty());
}

// World replica g holds x + W*g (W world replicas): the mean, x + W(W-1)/2, is exact in float.
TEST(Mpi, CommunicatorMeanOverRanksAndLocalReplicasIsExact) {
  for (int local : {1, 2}) {
    std::vector<std::unique_ptr<Device>> devs;
    std::vector<Device*> d;
    for (int i = 0; i < local; ++i) d.push_back(devs.emplace_back(make_cpu_device(i, 1)).get());
    const auto comm = make_communicator(CommKind::mpi, world(), d, {});
    const int w = comm->world_replicas();
    ASSERT_EQ(w, 2 * local);
    const int64_t n = 50001;
    std::vector<std::vector<float>> b(static_cast<size_t>(local), std::vector<float>(static_cast<size_t>(n)));
    std::vector<float*> p;
    for (int i = 0; i < local; ++i) {
      const int g = comm->first_replica() + i;
      for (int64_t k = 0; k < n; ++k) b[size_t(i)][size_t(k)] = float(k % 512) * 0.5f + float(w * g);
      p.push_back(b[size_t(i)].data());
    }
    comm->allreduce_mean(p, n);
    for (int i = 0; i < local; ++i)
      for (int64_t k = 0; k < n; ++k)
        ASSERT_EQ(b[size_t(i)][size_t(k)], float(k % 512) * 0.5f + float(w * (w - 1) / 2)) << local << " " << k;
    // Broadcast: everyone gets world replica 0's buffer.
    for (int i = 0; i < local; ++i) std::fill(b[size_t(i)].begin(), b[size_t(i)].end(), float(comm->first_replica() + i));
    comm->broadcast(p, n);
    for (int i = 0; i < local; ++i) EXPECT_EQ(b[size_t(i)], std::vector<float>(size_t(n), 0.0f));
  }
}

struct Case {
  std::string strategy;
  int local;
  double momentum;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.strategy << " 2x" << c.local << " m=" << c.momentum; }

class MpiEquivalence : public ::testing::TestWithParam<Case> {};

TEST_P(MpiEquivalence, RanksTimesReplicasEqualSingle) {
  const Case& c = GetParam();
  StrategyRun ref;
  ref.opt.momentum = c.momentum;
  const auto single = run_strategy(ref);  // this process alone

  StrategyRun run = ref;
  run.strategy = c.strategy;
  run.local_replicas = c.local;
  run.comm = CommKind::mpi;
  const auto out = run_strategy(run, world());
  for (int r = 0; r < c.local; ++r) EXPECT_LE(relative_max_diff(out.params[size_t(r)], single.params[0]), kTol) << r;
  // Every rank holds the same model, bit for bit.
  EXPECT_EQ(from_rank0(out.params[0]), out.params[0]);
  for (const StepTimes& t : out.times) EXPECT_EQ(t.exchange_bytes, double(single.params[0].size() * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(Strategies, MpiEquivalence,
                         ::testing::Values(Case{"allreduce", 1, 0.0}, Case{"allreduce", 2, 0.0}, Case{"allreduce", 2, 0.9},
                                           Case{"tower", 1, 0.0}, Case{"tower", 2, 0.0}, Case{"tower", 2, 0.9},
                                           Case{"param-avg", 1, 0.0}, Case{"param-avg", 2, 0.0},
                                           Case{"param-avg", 2, 0.9}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return fmt::format("{}_2x{}_m{}", c.strategy == "param-avg" ? "param_avg" : c.strategy,
                                              c.local, int(c.momentum * 10));
                         });

// allreduce --buckets: each bucket is reduced across the ranks by the exchange thread while backward
// goes on. One bucket per tensor and three buckets, 2 ranks x 1 and x 2 replicas: still single at B.
TEST(Mpi, AllreduceBucketsOverlappedWithBackwardEqualSingle) {
  StrategyRun ref;
  ref.opt.momentum = 0.9;
  const auto single = run_strategy(ref);
  for (int local : {1, 2})
    for (double floats : {1.0, 16.0}) {
      StrategyRun run = ref;
      run.strategy = "allreduce";
      run.local_replicas = local;
      run.comm = CommKind::mpi;
      run.options.set("bucket_mb", floats * sizeof(float) / (1 << 20));
      const auto out = run_strategy(run, world());
      EXPECT_EQ(out.exchange_calls, floats == 1.0 ? 6 : 3);
      for (int r = 0; r < local; ++r)
        EXPECT_LE(relative_max_diff(out.params[size_t(r)], single.params[0]), kTol) << local << " " << floats;
      EXPECT_EQ(from_rank0(out.params[0]), out.params[0]) << local << " " << floats;
      for (const StepTimes& t : out.times) EXPECT_GT(t.exchange_busy, 0);
    }
}

TEST(Mpi, IndependentRanksDivergeAndExchangeNothing) {
  StrategyRun run;
  run.strategy = "independent";
  run.local_replicas = 1;
  run.comm = CommKind::mpi;
  const auto out = run_strategy(run, world());
  for (const StepTimes& t : out.times) EXPECT_EQ(t.exchange_bytes, 0);
  const std::vector<float> rank0 = from_rank0(out.params[0]);
  if (!world().root()) EXPECT_GT(relative_max_diff(out.params[0], rank0), 100 * kTol);
}

// Rank 1 skips a collective: rank 0 must give up after its timeout with a message, not hang. The
// process group is then marked failed, so the exit aborts the job; ctest checks the printed line.
TEST(MpiTimeout, MissingRankEndsInAMessage) {
  const auto pg = make_mpi_process_group(1.0);
  if (pg->rank() == 0) {
    float v[4] = {};
    const auto t0 = std::chrono::steady_clock::now();
    try {
      pg->allreduce_sum(std::span(v));
      ADD_FAILURE() << "the allreduce completed without rank 1";
    } catch (const Error& e) {
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_THAT(e.what(), HasSubstr("rank 0 of 2: MPI_Iallreduce(float) did not complete within 1 s"));
      EXPECT_LT(waited, 3.0);
      if (!HasFailure()) std::printf("timeout detected after %.2f s: %s\n", waited, e.what());
      std::fflush(stdout);  // the exit aborts the job: nothing buffered would survive it
    }
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
}

}  // namespace
}  // namespace cnnb
