// Strategies and the threads communicator on CPU replicas: allreduce, tower and param-avg with R
// replicas at B/R equal single at B; independent replicas diverge and exchange nothing; results are
// reproducible bit for bit; the communicator's reductions are exact where they can be; bad input is
// refused with a message naming the flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "bench/harness/trainer.h"
#include "core/error.h"
#include "core/rng.h"
#include "strategies/comm/host_reduce.h"
#include "tests/cli_runner.h"
#include "tests/strategy_run.h"
#include "tests/input_error.h"

namespace cnnb {
namespace {

using test::input_error;

using ::testing::HasSubstr;
using test::relative_max_diff;
using test::run_strategy;
using test::StrategyRun;

constexpr double kTol = 1e-5;  // max abs difference relative to max |param|

OptimizerConfig sgd(double momentum, double weight_decay = 0) {
  OptimizerConfig o;
  o.kind = OptimizerConfig::Kind::sgd;
  o.lr = 0.1;
  o.momentum = momentum;
  o.weight_decay = weight_decay;
  return o;
}

OptimizerConfig adam() {
  OptimizerConfig o;
  o.kind = OptimizerConfig::Kind::adam;
  o.lr = 0.01;
  return o;
}

std::vector<float> initial_params() {
  const Dataset& d = test::strategy_data();
  return init_params(plan_model(parse_model(test::kStrategyModel), d.shape, d.classes), test::kStrategySeed);
}

// ---- equivalence with single

struct EquivCase {
  std::string strategy;
  int replicas;
  double momentum, weight_decay;
};

void PrintTo(const EquivCase& c, std::ostream* os) {
  *os << c.strategy << " R=" << c.replicas << " momentum=" << c.momentum << " wd=" << c.weight_decay;
}

class Equivalence : public ::testing::TestWithParam<EquivCase> {};

// Plain SGD and SGD with momentum (and weight decay): the R replicas end where single at the global
// batch ends. For param-avg with k = 1 this holds with momentum too: from identical parameters every
// replica's update is linear in (gradient, velocity), so the mean velocity follows single's velocity.
TEST_P(Equivalence, ReplicasAtShardBatchEqualSingleAtGlobalBatch) {
  const EquivCase& c = GetParam();
  StrategyRun ref;
  ref.opt = sgd(c.momentum, c.weight_decay);
  const auto single = run_strategy(ref);
  // The model has moved, so equality below says something.
  ASSERT_GT(relative_max_diff(single.params[0], initial_params()), 100 * kTol);

  StrategyRun run = ref;
  run.strategy = c.strategy;
  run.local_replicas = c.replicas;
  const auto out = run_strategy(run);
  ASSERT_EQ(out.params.size(), size_t(c.replicas));
  for (int r = 0; r < c.replicas; ++r) EXPECT_LE(relative_max_diff(out.params[size_t(r)], single.params[0]), kTol) << r;
  // The replicas agree with each other exactly: the same update of the same numbers.
  for (int r = 1; r < c.replicas; ++r) EXPECT_EQ(out.params[size_t(r)], out.params[0]) << r;
  for (const StepTimes& t : out.times) {
    EXPECT_EQ(t.exchange_bytes, double(single.params[0].size() * sizeof(float)));
    EXPECT_GT(t.exchange, 0);
  }
}

std::vector<EquivCase> equivalence_cases() {
  std::vector<EquivCase> v;
  for (const char* s : {"allreduce", "tower", "param-avg"})
    for (int r : {2, 3, 4})
      for (double m : {0.0, 0.9}) v.push_back({s, r, m, 0.0});
  for (const char* s : {"allreduce", "tower", "param-avg"}) v.push_back({s, 3, 0.9, 0.01});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Strategies, Equivalence, ::testing::ValuesIn(equivalence_cases()),
                         [](const auto& info) {
                           const EquivCase& c = info.param;
                           std::string name = c.strategy == "param-avg" ? "param_avg" : c.strategy;
                           return fmt::format("{}_R{}_m{}{}", name, c.replicas, int(c.momentum * 10),
                                              c.weight_decay > 0 ? "_wd" : "");
                         });

// Adam: averaging gradients (allreduce, tower) still gives single's update; averaging parameters after
// independent Adam steps (param-avg) does not, because Adam's step is not linear in the gradient.
TEST(Strategies, AdamAllreduceAndTowerEqualSingleButParamAvgDoesNot) {
  StrategyRun ref;
  ref.opt = adam();
  const auto single = run_strategy(ref);
  for (const char* s : {"allreduce", "tower"}) {
    StrategyRun run = ref;
    run.strategy = s;
    run.local_replicas = 3;
    EXPECT_LE(relative_max_diff(run_strategy(run).params[0], single.params[0]), kTol) << s;
  }
  StrategyRun pa = ref;
  pa.strategy = "param-avg";
  pa.local_replicas = 3;
  EXPECT_GT(relative_max_diff(run_strategy(pa).params[0], single.params[0]), 100 * kTol);
}

TEST(Strategies, CpuGemmBackendAllreduceEqualsSingle) {
  StrategyRun ref;
  ref.backend = "cpu-gemm";
  ref.opt = sgd(0.9);
  const auto single = run_strategy(ref);
  StrategyRun run = ref;
  run.strategy = "allreduce";
  run.local_replicas = 2;
  EXPECT_LE(relative_max_diff(run_strategy(run).params[1], single.params[0]), kTol);
}

// ---- buckets, reproducibility

TEST(Strategies, AllreduceBucketsGiveBitIdenticalParameters) {
  StrategyRun run;
  run.strategy = "allreduce";
  run.local_replicas = 3;
  run.opt = sgd(0.9);
  const auto whole = run_strategy(run);
  EXPECT_EQ(whole.exchange_calls, 1);
  // 16 floats: from the last tensor back, a bucket closes once it holds 16 or more. The tensors are
  // conv1 36+4, fc1 512+8, fc2 32+4, so the buckets are {fc2.bias, fc2.weight}, {fc1.*}, {conv1.*}.
  run.options.bucket_mb = 64.0 / (1 << 20);
  const auto bucketed = run_strategy(run);
  EXPECT_EQ(bucketed.exchange_calls, 3);
  EXPECT_EQ(bucketed.params, whole.params);
}

TEST(Strategies, SameSeedSameParametersBitForBit) {
  for (const char* s : {"allreduce", "tower", "param-avg"}) {
    StrategyRun run;
    run.strategy = s;
    run.local_replicas = 3;
    run.opt = sgd(0.9);
    EXPECT_EQ(run_strategy(run).params, run_strategy(run).params) << s;
  }
}

// ---- param-avg with k > 1, independent

TEST(Strategies, ParamAvgSyncsEveryKStepsAndStillLearns) {
  const int64_t n = test::strategy_data().train.count();
  const std::vector<int64_t> e1 = epoch_permutation(n, test::kStrategySeed, 1), e2 = epoch_permutation(n, test::kStrategySeed, 2);
  StrategyRun run;
  run.strategy = "param-avg";
  run.local_replicas = 2;
  run.options.sync_every = 3;
  run.steps = 40;  // two epochs of 20 steps
  run.opt = sgd(0.9);
  run.batch_of = [&](int s) {
    const auto first = (s < 20 ? e1 : e2).begin() + (s % 20) * run.batch;
    return std::vector<int64_t>(first, first + run.batch);
  };
  const auto out = run_strategy(run);
  for (int s = 0; s < run.steps; ++s) {
    const bool sync = (s + 1) % 3 == 0;
    EXPECT_EQ(out.times[size_t(s)].exchange_bytes > 0, sync) << s;
  }
  // 40 is not a multiple of 3: the replicas have taken one step apart since the last average.
  EXPECT_NE(out.params[0], out.params[1]);
  run.steps = 39;
  const auto synced = run_strategy(run);
  EXPECT_EQ(synced.params[0], synced.params[1]);
  // Learning: the loss of the last steps is far below the first's (chance level is ln 4 = 1.386).
  const auto mean_loss = [&](size_t from, size_t to) {
    double l = 0;
    for (size_t i = from; i < to; ++i) l += out.stats[i].loss_sum / double(out.stats[i].images);
    return l / double(to - from);
  };
  EXPECT_GT(mean_loss(0, 2), 1.2);
  EXPECT_LT(mean_loss(36, 40), 0.35 * mean_loss(0, 2));
}

// Each independent replica is exactly a single run on its own shard of every global batch.
TEST(Strategies, IndependentReplicasDivergeAndExchangeNothing) {
  StrategyRun run;
  run.strategy = "independent";
  run.local_replicas = 3;
  run.opt = sgd(0.9);
  const auto out = run_strategy(run);
  EXPECT_EQ(out.exchange_calls, 0);
  for (const StepTimes& t : out.times) {
    EXPECT_EQ(t.exchange_bytes, 0);
    EXPECT_EQ(t.exchange, 0);
  }
  EXPECT_GT(relative_max_diff(out.params[0], out.params[1]), 100 * kTol);
  EXPECT_GT(relative_max_diff(out.params[1], out.params[2]), 100 * kTol);

  const std::vector<int64_t> order = epoch_permutation(test::strategy_data().train.count(), test::kStrategySeed, 1);
  for (int r = 0; r < 3; ++r) {
    StrategyRun alone = run;
    alone.strategy = "single";
    alone.local_replicas = 1;
    alone.batch = run.batch / 3;
    alone.batch_of = [&](int s) {
      const auto first = order.begin() + s * run.batch + r * alone.batch;
      return std::vector<int64_t>(first, first + alone.batch);
    };
    EXPECT_EQ(run_strategy(alone).params[0], out.params[size_t(r)]) << r;
  }
}

// ---- the threads communicator

std::vector<std::vector<float>> buffers(int replicas, int64_t n, const std::function<float(int, int64_t)>& value) {
  std::vector<std::vector<float>> b(static_cast<size_t>(replicas), std::vector<float>(static_cast<size_t>(n)));
  for (int r = 0; r < replicas; ++r)
    for (int64_t i = 0; i < n; ++i) b[size_t(r)][size_t(i)] = value(r, i);
  return b;
}

struct CpuComm {
  explicit CpuComm(int replicas) : pg(make_single_process_group()) {
    for (int i = 0; i < replicas; ++i) devs.push_back(make_cpu_device(i, 1));
    std::vector<Device*> d;
    for (auto& x : devs) d.push_back(x.get());
    comm = make_communicator(CommKind::threads, *pg, d, {});
  }
  std::unique_ptr<ProcessGroup> pg;
  std::vector<std::unique_ptr<Device>> devs;
  std::unique_ptr<Communicator> comm;
};

std::vector<float*> pointers(std::vector<std::vector<float>>& b, int64_t offset = 0) {
  std::vector<float*> p;
  for (auto& v : b) p.push_back(v.data() + offset);
  return p;
}

// Values chosen so that every partial sum and the mean are exact in float: the result must be exact.
TEST(ThreadsComm, AllreduceMeanOfKnownValuesIsExact) {
  for (int replicas : {1, 2, 3, 4}) {
    CpuComm c(replicas);
    const int64_t n = 100003;  // large enough to be split over threads, odd so slices are uneven
    auto b = buffers(replicas, n, [&](int r, int64_t i) { return float(i % 1000) * 0.25f + float(replicas * r); });
    c.comm->allreduce_mean(pointers(b), n);
    // mean over r of (x + R*r) = x + R*(R-1)/2
    for (int r = 0; r < replicas; ++r)
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(b[size_t(r)][size_t(i)], float(i % 1000) * 0.25f + float(replicas * (replicas - 1) / 2))
            << "R=" << replicas << " r=" << r << " i=" << i;
  }
}

TEST(ThreadsComm, BucketsGiveTheSameResultAsOneCall) {
  const int replicas = 3;
  const int64_t n = 70001;
  Rng rng(11);
  auto whole = buffers(replicas, n, [&](int, int64_t) { return float(rng.normal()); });
  auto bucketed = whole;
  CpuComm c(replicas);
  c.comm->allreduce_mean(pointers(whole), n);
  for (int64_t begin = 0, size = 1; begin < n; begin += size, size = size * 3 + 7) {
    const int64_t count = std::min(size, n - begin);
    c.comm->allreduce_mean(pointers(bucketed, begin), count);
  }
  EXPECT_EQ(bucketed, whole);
  // Summed in replica order: element 0 is exactly ((a + b) + c) / 3 in float.
  auto fresh = buffers(replicas, 1, [&](int r, int64_t) { return 0.1f * float(r + 1) + 1e-3f; });
  const float expect = ((fresh[0][0] + fresh[1][0]) + fresh[2][0]) / 3.0f;
  c.comm->allreduce_mean(pointers(fresh), 1);
  EXPECT_EQ(fresh[2][0], expect);
}

TEST(ThreadsComm, BroadcastCopiesReplicaZero) {
  CpuComm c(3);
  auto b = buffers(3, 40000, [](int r, int64_t i) { return float(r * 100000 + i); });
  const std::vector<float> zero = b[0];
  c.comm->broadcast(pointers(b), 40000);
  for (const auto& v : b) EXPECT_EQ(v, zero);
}

TEST(ThreadsComm, RefusesSeveralProcesses) {
  // A fake group of two processes: threads cannot reach the other one.
  struct TwoProcesses : ProcessGroup {
    std::string name() const override { return "fake"; }
    int rank() const override { return 0; }
    int size() const override { return 2; }
    int local_rank() const override { return 0; }
    int local_size() const override { return 2; }
    void allreduce_sum(std::span<float>) override {}
    void allreduce_sum(std::span<double>) override {}
    std::vector<double> gather(std::span<const double>) override { return {}; }
    void broadcast(std::span<std::byte>, int) override {}
    void barrier() override {}
  } pg;
  auto dev = make_cpu_device(0, 1);
  EXPECT_THAT(input_error([&] { make_communicator(CommKind::threads, pg, {dev.get()}, {}); }),
              HasSubstr("use --comm mpi"));
}

// ---- configuration errors

TrainConfig parallel_config(std::string strategy, std::string devices, int batch = 24) {
  TrainConfig c;
  c.strategy = std::move(strategy);
  c.devices = std::move(devices);
  c.batch = batch;
  return c;
}

ParallelPlan plan_of(const TrainConfig& c) {
  const auto pg = make_single_process_group();
  return plan_parallel(c, *pg);
}

TEST(StrategyConfig, PlansReplicasThreadsAndCommunicator) {
  TrainConfig c = parallel_config("allreduce", "cpu:3");
  c.backend = "cpu-gemm";
  c.threads = 2;
  const ParallelPlan p = plan_of(c);
  EXPECT_EQ(p.world, 3);
  EXPECT_EQ(p.devices.str(), "cpu:3");
  EXPECT_EQ(p.threads, 2);
  EXPECT_EQ(p.comm, CommKind::threads);
  c.backend = "cpu-ref";
  EXPECT_EQ(plan_of(c).threads, 1);
  EXPECT_EQ(plan_of(parallel_config("single", "")).devices.str(), "cpu:1");
}

TEST(StrategyConfig, BadInputNamesTheFlag) {
  EXPECT_THAT(input_error([] { plan_of(parallel_config("ring", "cpu:2")); }),
              HasSubstr("unknown strategy 'ring'; expected one of: single, allreduce, tower, param-avg, independent"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "cpu:5")); }),
              HasSubstr("--batch 24 does not split evenly over the 5 replicas of --devices cpu:5"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("single", "cpu:2")); }),
              HasSubstr("strategy single runs one replica, but --devices cpu:2 gives 2"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "cpu:0")); }),
              HasSubstr("--devices cpu:0: the number of CPU replicas must be in [1, 256], got 0"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "cpu:two")); }),
              HasSubstr("--devices 'cpu:two'"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "tpu:1")); }),
              HasSubstr("unknown device kind 'tpu'; expected cpu:R, gpu:0,1,..., gpu:all or gpu:local"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "cpu")); }), HasSubstr("expected cpu:R"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "gpu:0,x")); }),
              HasSubstr("'x' is not a GPU ordinal"));
  EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "gpu:1,1")); }), HasSubstr("gpu 1 is listed twice"));
  if (cuda_device_count() == 0) {
    EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "gpu:0,1")); }),
                HasSubstr("--devices gpu:0,1: no CUDA device is visible"));
    EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "gpu:all")); }),
                HasSubstr("no CUDA device is visible"));
  } else {
    EXPECT_THAT(input_error([] { plan_of(parallel_config("allreduce", "gpu:0,99")); }),
                HasSubstr("more replicas than devices"));
  }
  TrainConfig c = parallel_config("allreduce", "cpu:2");
  c.sync_every = 4;
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--sync-every 4 applies to param-avg only"));
  c = parallel_config("tower", "cpu:2");
  c.bucket_mb = 1;
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--buckets 1 applies to allreduce only"));
  c = parallel_config("allreduce", "cpu:2");
  c.comm = "carrier-pigeon";
  EXPECT_THAT(input_error([&] { plan_of(c); }),
              HasSubstr("unknown communicator 'carrier-pigeon'; expected one of: threads, mpi, nccl"));
  c.comm = "nccl";
#if CNNB_HAVE_NCCL
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--comm nccl exchanges between GPUs"));
#else
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--comm nccl: this cnnbench was built without CUDA and NCCL"));
#endif
  c.comm = "mpi";
#if !CNNB_HAVE_MPI
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--comm mpi: this cnnbench was built without MPI"));
#endif
}

// ---- through the CLI: the run record and the messages

const std::string kQuick = "train --dataset synthetic:n=192,shape=1x10x10,classes=4,test=32 "
                           "--model conv3x3x4,relu,maxpool2,fc4 --batch 24 --optimizer sgd --lr 0.1 --epochs 1";

TEST(StrategiesCli, AllreduceRunRecordHasReplicasAndExchange) {
  test::TempDir dir;
  const auto out = dir / "run.json";
  const auto r = test::run_cli(fmt::format("{} --strategy allreduce --devices cpu:3 --buckets 0.0001 --out '{}'", kQuick,
                                           out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("strategy allreduce on 3 replicas (cpu:3, comm threads)"));
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["config"]["strategy"], "allreduce");
  EXPECT_EQ(j["config"]["devices"], "cpu:3");
  EXPECT_EQ(j["config"]["replicas"], 3);
  EXPECT_EQ(j["config"]["processes"], 1);
  EXPECT_EQ(j["config"]["comm"], "threads");
  const auto& x = j["timing"]["exchange"];
  const double bytes = j["model"]["params"].get<double>() * 4;
  EXPECT_EQ(x["bytes_per_step"].get<double>(), bytes);
  EXPECT_EQ(x["bytes_per_exchange"].get<double>(), bytes);
  EXPECT_GT(x["calls_per_exchange"].get<int>(), 1);
  EXPECT_EQ(x["steps_with_exchange"], 8 - 5);
  // busbw = algbw * 2(N-1)/N with N = 3
  EXPECT_NEAR(x["busbw_gbps"].get<double>(), x["algbw_gbps"].get<double>() * 4.0 / 3.0, 1e-12);
  EXPECT_GT(x["share_of_step"].get<double>(), 0);
  EXPECT_LT(x["share_of_step"].get<double>(), 1);
  EXPECT_GT(j["timing"]["phases_ms"]["exchange"]["median"].get<double>(), 0);
}

TEST(StrategiesCli, SingleRecordKeepsItsShape) {
  test::TempDir dir;
  const auto out = dir / "run.json";
  const auto r = test::run_cli(fmt::format("{} --out '{}'", kQuick, out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("strategy")));
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["config"]["strategy"], "single");
  EXPECT_EQ(j["config"]["devices"], "cpu:1");
  EXPECT_EQ(j["config"]["replicas"], 1);
  EXPECT_EQ(j["timing"]["exchange"]["bytes_per_step"], 0.0);
  EXPECT_EQ(j["timing"]["exchange"]["busbw_gbps"], nullptr);
}

TEST(StrategiesCli, ListNamesStrategiesAndCommunicators) {
  const auto r = test::run_cli("list");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* s : {"allreduce", "tower", "param-avg", "independent", "threads", "mpi", "nccl"})
    EXPECT_THAT(r.out, HasSubstr(s));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("arrive with multi-device support")));
}

struct CliCase {
  std::string name, args, expect;
};
void PrintTo(const CliCase& c, std::ostream* os) { *os << c.name; }

class StrategiesCliBadInput : public ::testing::TestWithParam<CliCase> {};

TEST_P(StrategiesCliBadInput, OneMessageExitCodeTwoNoOutput) {
  test::TempDir dir;
  const auto out = dir / "run.json";
  const auto r = test::run_cli(fmt::format("{} {} --out '{}'", kQuick, GetParam().args, out.string()));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr(GetParam().expect));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));
}

INSTANTIATE_TEST_SUITE_P(
    Strategies, StrategiesCliBadInput,
    ::testing::Values(
        CliCase{"UnknownStrategy", "--strategy ring", "unknown strategy 'ring'; expected one of: single, allreduce"},
        CliCase{"BatchNotDivisible", "--strategy allreduce --devices cpu:5",
                "--batch 24 does not split evenly over the 5 replicas of --devices cpu:5"},
        CliCase{"SingleWithTwoDevices", "--devices cpu:2", "strategy single runs one replica"},
        CliCase{"BadDeviceSyntax", "--strategy allreduce --devices cpu:", "--devices 'cpu:'"},
        CliCase{"NoGpu", "--strategy allreduce --devices gpu:0,1", "--devices gpu:0,1"},
        CliCase{"SyncEveryZero", "--strategy param-avg --devices cpu:2 --sync-every 0",
                "--sync-every must be a positive integer, got 0"},
        CliCase{"SyncEveryText", "--strategy param-avg --devices cpu:2 --sync-every often",
                "--sync-every must be a positive integer, got 'often'"},
        CliCase{"BucketsNegative", "--strategy allreduce --devices cpu:2 --buckets -1",
                "--buckets must be a size in MiB >= 0"},
        CliCase{"UnknownComm", "--strategy allreduce --devices cpu:2 --comm smoke", "unknown communicator 'smoke'"}),
    [](const auto& info) { return info.param.name; });

#if CNNB_HAVE_MPI
// mpirun with two ranks through the CLI: one header, one table, one record, written by rank 0.
TEST(StrategiesCli, MpirunTwoRanksRankZeroAloneWrites) {
  test::TempDir dir;
  const auto out = dir / "run.json";
  const std::string cmd = fmt::format(
      // Open MPI does not free its own allocations at exit; in sanitizer builds LeakSanitizer would
      // report them (inside libmpi and its dlopened components), so leak checks are off for the ranks.
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
      "ASAN_OPTIONS=detect_leaks=0 mpirun --oversubscribe -np 2 '{}' {} --strategy allreduce --devices cpu:2 --comm-timeout 60 --out '{}' 2>&1",
      CNNB_CLI_PATH, kQuick, out.string());
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  const int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  EXPECT_THAT(text, HasSubstr("strategy allreduce on 4 replicas (cpu:2 x 2 processes, comm mpi)"));
  const auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("cnnbench train:"), 1u) << text;
  EXPECT_EQ(count("train_loss"), 1u) << text;
  EXPECT_EQ(count("wrote "), 1u) << text;
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["config"]["replicas"], 4);
  EXPECT_EQ(j["config"]["processes"], 2);
  EXPECT_EQ(j["config"]["comm"], "mpi");
  EXPECT_EQ(j["timing"]["exchange"]["process_group"], "mpi (2 processes)");
}
#endif

}  // namespace
}  // namespace cnnb
