// Strategies and the threads communicator on CPU replicas: allreduce, tower and param-avg with R
// replicas at B/R equal single at B; independent replicas diverge and exchange nothing; results are
// reproducible bit for bit; the communicator's reductions are exact where they can be; bad input is
// refused with a message naming the flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <numeric>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "bench/harness/trainer.h"
#include "core/error.h"
#include "core/rng.h"
#include "strategies/bucket_exchange.h"
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
  run.options.set("bucket_mb", 64.0 / (1 << 20));
  const auto bucketed = run_strategy(run);
  EXPECT_EQ(bucketed.exchange_calls, 3);
  EXPECT_EQ(bucketed.params, whole.params);
}

// ---- allreduce buckets overlapped with backward

// The hook fires once per layer with parameters, last first, when that layer's gradients are final and
// before the earlier layers' are computed.
TEST(BackwardHook, FiresOncePerParameterisedLayerLastFirstWithFinalGradients) {
  const Dataset& d = test::strategy_data();
  const ModelPlan plan = plan_model(parse_model(test::kStrategyModel), d.shape, d.classes);
  auto dev = make_cpu_device(0, 1);
  Network<float> net(plan, resolve_backend("cpu-ref"), *dev, 8);
  const std::vector<float> init = init_params(plan, test::kStrategySeed);
  std::copy(init.begin(), init.end(), net.params());
  const std::vector<int64_t> idx = {3, 1, 4, 1, 5, 9, 2, 6};
  std::vector<float> x(size_t(8 * plan.input.size()));
  std::vector<int32_t> y(8);
  build_batch(d.train, d.shape, idx, x.data(), y.data());
  std::copy(x.begin(), x.end(), net.input());
  std::copy(y.begin(), y.end(), net.labels());

  struct Call {
    size_t layer;
    int64_t ready_from;
    std::vector<float> ready, before;  // grads [ready_from, end) and [0, ready_from) at the call
  };
  struct Recorder final : BackwardHook {
    Network<float>* net;
    std::vector<Call> calls;
    void grads_ready(size_t layer, int64_t from) override {
      const float* g = net->grads();
      calls.push_back({layer, from, {g + from, g + net->param_count()}, {g, g + from}});
    }
  } rec;
  rec.net = &net;
  net.forward(8, true);
  net.backward(8, &rec);  // the first backward: gradients not yet computed are still zero
  const std::vector<float> grads(net.grads(), net.grads() + net.param_count());

  // conv3x3x4,relu,maxpool2,fc8,relu,fc4: layers 5 (fc2), 3 (fc1), 0 (conv1).
  const auto offset = [&](const char* name) {
    for (const auto& t : plan.params)
      if (t.name == name) return t.offset;
    ADD_FAILURE() << name;
    return int64_t(-1);
  };
  ASSERT_EQ(rec.calls.size(), 3u);
  EXPECT_EQ(rec.calls[0].layer, 5u);
  EXPECT_EQ(rec.calls[0].ready_from, offset("fc2.weight"));
  EXPECT_EQ(rec.calls[1].layer, 3u);
  EXPECT_EQ(rec.calls[1].ready_from, offset("fc1.weight"));
  EXPECT_EQ(rec.calls[2].layer, 0u);
  EXPECT_EQ(rec.calls[2].ready_from, 0);
  for (const Call& c : rec.calls) {
    EXPECT_EQ(c.ready, std::vector<float>(grads.begin() + c.ready_from, grads.end())) << c.layer;
    EXPECT_EQ(c.before, std::vector<float>(size_t(c.ready_from), 0.0f)) << c.layer;
  }
  // A hook changes nothing in what backward computes.
  net.backward(8);
  EXPECT_EQ(std::vector<float>(net.grads(), net.grads() + net.param_count()), grads);
}

TEST(Buckets, WholeTensorsLastFirstContiguous) {
  const Dataset& d = test::strategy_data();
  const ModelPlan plan = plan_model(parse_model(test::kStrategyModel), d.shape, d.classes);
  // conv1 36+4, fc1 512+8, fc2 32+4 floats = 596.
  const auto one_per_tensor = make_buckets(plan, 4.0 / (1 << 20));
  ASSERT_EQ(one_per_tensor.size(), plan.params.size());
  for (size_t k = 0; k < one_per_tensor.size(); ++k) {
    const ParamTensor& t = plan.params[plan.params.size() - 1 - k];
    EXPECT_EQ(one_per_tensor[k].offset, t.offset) << k;
    EXPECT_EQ(one_per_tensor[k].count, t.count) << k;
  }
  const auto b = make_buckets(plan, 64.0 / (1 << 20));
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].offset, 560);
  EXPECT_EQ(b[0].count, 36);
  EXPECT_EQ(b[1].offset, 40);
  EXPECT_EQ(b[1].count, 520);
  EXPECT_EQ(b[2].offset, 0);
  EXPECT_EQ(b[2].count, 40);
  const auto whole = make_buckets(plan, 0);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].count, 596);
}

struct BucketCase {
  int replicas;
  double bucket_floats;  // bucket size in floats (converted to MiB)
  double momentum;
};

void PrintTo(const BucketCase& c, std::ostream* os) {
  *os << "R=" << c.replicas << " bucket=" << c.bucket_floats << " floats m=" << c.momentum;
}

class OverlappedBuckets : public ::testing::TestWithParam<BucketCase> {};

// Overlapped or not, allreduce with buckets is single at the global batch, and the same numbers bit
// for bit as one call after backward: every element is still summed in replica order.
TEST_P(OverlappedBuckets, EqualSingleAndTheUnbucketedExchange) {
  const BucketCase& c = GetParam();
  StrategyRun ref;
  ref.opt = sgd(c.momentum);
  ref.steps = 6;
  const auto single = run_strategy(ref);
  ASSERT_GT(relative_max_diff(single.params[0], initial_params()), 100 * kTol);
  StrategyRun run = ref;
  run.strategy = "allreduce";
  run.local_replicas = c.replicas;
  const auto whole = run_strategy(run);
  run.options.set("bucket_mb", c.bucket_floats * sizeof(float) / (1 << 20));
  const auto out = run_strategy(run);
  const int expect_calls = c.bucket_floats <= 1 ? 6 : c.bucket_floats <= 16 ? 3 : 1;
  EXPECT_EQ(out.exchange_calls, expect_calls);
  for (int r = 0; r < c.replicas; ++r) EXPECT_LE(relative_max_diff(out.params[size_t(r)], single.params[0]), kTol) << r;
  EXPECT_EQ(out.params, whole.params);
  for (const StepTimes& t : out.times) {
    EXPECT_EQ(t.exchange_bytes, double(single.params[0].size() * sizeof(float)));
    EXPECT_GT(t.exchange_busy, 0);
    EXPECT_GE(t.exchange, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, OverlappedBuckets,
                         ::testing::Values(BucketCase{2, 1, 0.0}, BucketCase{2, 16, 0.9}, BucketCase{2, 13107.2, 0.9},
                                           BucketCase{3, 1, 0.9}, BucketCase{3, 16, 0.0}, BucketCase{3, 13107.2, 0.0}),
                         [](const auto& info) {
                           const BucketCase& c = info.param;
                           return fmt::format("R{}_b{}_m{}", c.replicas, int(c.bucket_floats), int(c.momentum * 10));
                         });

// A communicator around the threads one that checks the handoff protocol and can be told to fail or
// to hold a replica's backward until a bucket has been exchanged.
class ProbeComm final : public Communicator {
 public:
  ProbeComm(ProcessGroup& pg, std::vector<Device*> devices)
      : Communicator(pg, devices), inner_(make_communicator(CommKind::threads, pg, devices, {})) {}
  std::string_view name() const override { return "probe"; }
  void allreduce_mean(std::span<float* const> b, int64_t n) override { inner_->allreduce_mean(b, n); }
  void broadcast(std::span<float* const> b, int64_t n) override { inner_->broadcast(b, n); }
  void prepare_marks(int marks) override {
    marks_ = marks;
    marked_.assign(size_t(local_replicas()), 0);
  }
  void mark_ready(int local, int mark) override {
    std::unique_lock lock(m_);
    // Marks come in order, once each per step (a new step starts again at 0).
    if (mark == 0) marked_[size_t(local)] = 0;
    if (mark == 0 && local == 0) exchanged_at_start_ = exchanged_;
    if (mark != marked_[size_t(local)]) order_ok_ = false;
    marked_[size_t(local)] = mark + 1;
    // Replica 0 may not finish backward before bucket 0 is exchanged: only an exchange that overlaps
    // backward gets past this (the deadline turns the other kind into a failure, not a hang).
    if (hold_last_mark_ && local == 0 && mark == marks_ - 1) {
      if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return exchanged_ > exchanged_at_start_; }))
        overlapped_ = false;
    }
  }
  void allreduce_mean_marked(std::span<float* const> b, int64_t n, int mark) override {
    {
      std::lock_guard lock(m_);
      for (int m : marked_)
        if (m <= mark) order_ok_ = false;  // exchanged before every replica had marked it
      if (mark == fail_at_) throw Error("probe: bucket 1 failed on purpose");
    }
    inner_->allreduce_mean(b, n);
    std::lock_guard lock(m_);
    ++exchanged_;
    // The step is over: its marks cannot stand in for the next step's.
    if (mark == marks_ - 1) marked_.assign(marked_.size(), 0);
    cv_.notify_all();
  }

  int fail_at_ = -1;
  bool hold_last_mark_ = false;
  bool order_ok_ = true, overlapped_ = true;
  int exchanged_ = 0;

 private:
  std::unique_ptr<Communicator> inner_;
  std::mutex m_;
  std::condition_variable cv_;
  int marks_ = 0, exchanged_at_start_ = 0;
  std::vector<int> marked_;
};

// The pieces of run_strategy, with the probe as communicator and optionally other ops.
struct ProbeRig {
  explicit ProbeRig(int replicas, OpSet<float> ops = resolve_backend("cpu-ref"))
      : pg(make_single_process_group()),
        rs(ReplicaSetup{plan(), std::move(ops), sgd(0.9), devices(replicas), 1, 24 / replicas, 0, test::kStrategySeed}),
        comm(*pg, rs.devices()) {
    StrategyOptions o;
    o.set("bucket_mb", 4.0 / (1 << 20));  // one bucket per tensor
    strategy = make_strategy("allreduce", o);
    strategy->setup(rs, comm);
  }
  static ModelPlan plan() {
    const Dataset& d = test::strategy_data();
    return plan_model(parse_model(test::kStrategyModel), d.shape, d.classes);
  }
  static DeviceList devices(int n) {
    DeviceList l;
    for (int i = 0; i < n; ++i) l.ids.push_back(i);
    return l;
  }
  StepTimes step(int s) {
    const Dataset& d = test::strategy_data();
    const std::vector<int64_t> order = epoch_permutation(d.train.count(), test::kStrategySeed, 1);
    StepTimes t;
    strategy->step(rs, comm, GlobalBatch{d.train, d.shape, std::span(order).subspan(size_t(s) * 24, 24)}, t);
    return t;
  }
  std::unique_ptr<ProcessGroup> pg;
  ReplicaSet rs;
  ProbeComm comm;
  std::unique_ptr<Strategy> strategy;
};

TEST(OverlappedBuckets, ExchangeBeginsBeforeBackwardEndsAndWaitsForEveryReplica) {
  ProbeRig rig(3);
  rig.comm.hold_last_mark_ = true;
  for (int s = 0; s < 3; ++s) rig.step(s);
  EXPECT_TRUE(rig.comm.overlapped_);
  EXPECT_TRUE(rig.comm.order_ok_);
  EXPECT_EQ(rig.comm.exchanged_, 3 * 6);
}

TEST(OverlappedBuckets, CommunicatorErrorSurfacesAndTheNextStepRuns) {
  ProbeRig rig(2);
  rig.comm.fail_at_ = 1;
  EXPECT_THAT([&] { rig.step(0); }, ::testing::ThrowsMessage<Error>(HasSubstr("bucket 1 failed on purpose")));
  EXPECT_EQ(rig.comm.exchanged_, 1);
  rig.comm.fail_at_ = -1;
  rig.step(1);
  EXPECT_EQ(rig.comm.exchanged_, 1 + 6);
  EXPECT_TRUE(rig.comm.order_ok_);
}

// Replica 1 fails in its last backward layer, after the exchange has taken the buckets before it: the
// step throws that error instead of waiting for a bucket that will never be ready.
TEST(OverlappedBuckets, ReplicaErrorSurfacesWithoutHanging) {
  OpSet<float> ops = resolve_backend("cpu-ref");
  ops.conv_bwd_filter = [](const ExecCtx& ctx, const auto& a) {
    static const auto ref = resolve_backend("cpu-ref").conv_bwd_filter;
    if (ctx.device == 1) throw Error("replica 1: conv_bwd_filter failed on purpose");
    ref(ctx, a);
  };
  ProbeRig rig(2, ops);
  EXPECT_THAT([&] { rig.step(0); }, ::testing::ThrowsMessage<Error>(HasSubstr("conv_bwd_filter failed on purpose")));
  EXPECT_LE(rig.comm.exchanged_, 4) << "at most the buckets of fc2 and fc1, never conv1's";
  const int after_first = rig.comm.exchanged_;
  EXPECT_THAT([&] { rig.step(1); }, ::testing::ThrowsMessage<Error>(HasSubstr("conv_bwd_filter failed on purpose")));
  EXPECT_LE(rig.comm.exchanged_ - after_first, 4);
  EXPECT_TRUE(rig.comm.order_ok_);
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
  run.options.set("sync_every", 3);
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

// ---- backend facts: the harness and the strategies ask the recipe, never the name

TEST(BackendRecipes, CpuRefIsTheOneSingleThreadedBaseline) {
  EXPECT_EQ(baseline_backend(), "cpu-ref");
  for (const BackendRecipe& r : backend_recipes()) {
    EXPECT_EQ(r.baseline, r.name == "cpu-ref") << r.name;
    EXPECT_EQ(r.single_threaded, r.name == "cpu-ref") << r.name;
  }
  // --threads does not reach a single-threaded recipe.
  TrainConfig c = parallel_config("allreduce", "cpu:2");
  c.threads = 3;
  c.backend = "cpu-ref";
  EXPECT_EQ(plan_of(c).threads, 1);
  c.backend = "cpu-gemm";
  EXPECT_EQ(plan_of(c).threads, 3);
}

TEST(BackendRecipes, GpuRecipesRunTheTowerHostOnTheCpuGemmTwin) {
  for (const BackendRecipe& r : backend_recipes()) {
    if (r.device == DeviceKind::cpu) {
      EXPECT_EQ(r.host_twin, "") << r.name << ": a CPU tower updates with its own kernels";
      continue;
    }
    EXPECT_EQ(r.host_twin, "cpu-gemm") << r.name;
    const BackendRecipe* twin = find_backend_recipe(r.host_twin);
    ASSERT_NE(twin, nullptr) << r.name;
    EXPECT_EQ(twin->device, DeviceKind::cpu) << r.name;
    EXPECT_EQ(twin->host_twin, "") << r.name;
  }
  // The tower finds the recipe through the op set it was given.
  EXPECT_EQ(resolve_backend("cpu-gemm").recipe, "cpu-gemm");
  EXPECT_EQ(resolve_backend("cpu-ref", {{"conv_fwd", "im2col_gemm"}}).recipe, "cpu-ref");
}

TEST(BackendRecipes, UnknownNamesAreRefusedWithTheKnownOnes) {
  EXPECT_EQ(find_backend_recipe("tpu-magic"), nullptr);
  EXPECT_THAT(input_error([] { backend_recipe("tpu-magic"); }),
              HasSubstr("unknown backend 'tpu-magic'; expected one of: cpu-ref, cpu-gemm, cpu-onednn, cuda-naive, "
                        "cuda-gemm, cudnn"));
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
  c.strategy_options.set("sync_every", 4);
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--sync-every 4 applies to param-avg only"));
  c = parallel_config("tower", "cpu:2");
  c.strategy_options.set("bucket_mb", 1);
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--buckets 1 applies to allreduce only"));
  c = parallel_config("allreduce", "cpu:2");
  EXPECT_THAT(input_error([&] { parse_comm("carrier-pigeon"); }),
              HasSubstr("unknown communicator 'carrier-pigeon'; expected one of: threads, mpi, nccl"));
  c.comm = CommKind::nccl;
#if CNNB_HAVE_NCCL
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--comm nccl exchanges between GPUs"));
#else
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--comm nccl: this cnnbench was built without CUDA and NCCL"));
#endif
  c.comm = CommKind::mpi;
#if !CNNB_HAVE_MPI
  EXPECT_THAT(input_error([&] { plan_of(c); }), HasSubstr("--comm mpi: this cnnbench was built without MPI"));
#endif
}

// --devices with a made-up number of visible GPUs: what a one-GPU or two-GPU machine accepts.
TEST(DeviceParsing, AnOrdinalListedKTimesIsKReplicasOnThatGpu) {
  int asked = 0;
  const auto gpus = [&asked](int n) {
    return std::function<int()>([&asked, n] {
      ++asked;
      return n;
    });
  };
  const DeviceList two = parse_devices("gpu:0,0", DeviceKind::cuda, 0, gpus(1));
  EXPECT_EQ(two.ids, (std::vector<int>{0, 0}));
  EXPECT_EQ(two.count(), 2);
  EXPECT_EQ(two.distinct(), 1);
  EXPECT_EQ(two.str(), "gpu:0,0");
  const DeviceList mixed = parse_devices("gpu:1,0,1", DeviceKind::cuda, 0, gpus(2));
  EXPECT_EQ(mixed.ids, (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(mixed.distinct(), 2);
  EXPECT_EQ(parse_devices("gpu:all", DeviceKind::cuda, 0, gpus(3)).ids, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(parse_devices("gpu:local", DeviceKind::cuda, 1, gpus(2)).ids, (std::vector<int>{1}));
  EXPECT_EQ(parse_devices("gpu:0,0,0,0,0,0,0,0", DeviceKind::cuda, 0, gpus(1)).count(), kMaxReplicasPerGpu);
  // CPU specs never ask CUDA (it costs a driver initialisation).
  asked = 0;
  const DeviceList cpu = parse_devices("cpu:3", DeviceKind::cpu, 0, gpus(1));
  EXPECT_EQ(cpu.distinct(), 3);
  EXPECT_EQ(asked, 0);

  EXPECT_THAT(input_error([&] { parse_devices("gpu:0,0,0,0,0,0,0,0,0", DeviceKind::cuda, 0, gpus(1)); }),
              HasSubstr("--devices gpu:0,0,0,0,0,0,0,0,0: gpu 0 is listed more than 8 times"));
  EXPECT_THAT(input_error([&] { parse_devices("gpu:0,0", DeviceKind::cuda, 0, gpus(0)); }),
              HasSubstr("--devices gpu:0,0: no CUDA device is visible"));
  EXPECT_THAT(input_error([&] { parse_devices("gpu:0,1,1", DeviceKind::cuda, 0, gpus(1)); }),
              HasSubstr("--devices gpu:0,1,1: gpu 1 does not exist, only 1 GPU is visible"));
  EXPECT_THAT(input_error([&] { parse_devices("gpu:local", DeviceKind::cuda, 2, gpus(2)); }),
              HasSubstr("this is process 2 on its host but only 2 GPUs are visible"));
  EXPECT_THAT(input_error([&] { parse_devices("gpu:0,,1", DeviceKind::cuda, 0, gpus(2)); }),
              HasSubstr("'' is not a GPU ordinal"));
  EXPECT_THAT(input_error([&] { parse_devices("gpu:0,0", DeviceKind::cpu, 0, gpus(1)); }),
              HasSubstr("--devices gpu:0,0 names GPU devices but the backend runs on the CPU"));
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
  EXPECT_EQ(x["communicator"], "threads");
  EXPECT_THAT(x["busbw_basis"].get<std::string>(), HasSubstr("nccl-tests"));
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
  // Buckets overlap backward: per step the communicator works at least as long as the step waits for it.
  EXPECT_GE(x["busy_ms"]["median"].get<double>(), x["exchange_ms"]["median"].get<double>());
  EXPECT_GE(x["hidden_share"].get<double>(), 0);
  EXPECT_LT(x["hidden_share"].get<double>(), 1);
}

// tower averages on the host whatever the communicator: the record names that path, not the communicator.
TEST(StrategiesCli, TowerRecordNamesHostStaging) {
  test::TempDir dir;
  const auto out = dir / "run.json";
  const auto r = test::run_cli(fmt::format("{} --strategy tower --devices cpu:2 --out '{}'", kQuick, out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["config"]["comm"], "threads");
  const auto& x = j["timing"]["exchange"];
  EXPECT_EQ(x["communicator"], "host staging + threads");
  EXPECT_THAT(x["busbw_basis"].get<std::string>(), HasSubstr("host staging"));
  EXPECT_GT(x["busbw_gbps"].get<double>(), 0);
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
  EXPECT_EQ(j["timing"]["exchange"]["hidden_share"], 0.0);
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
  EXPECT_EQ(j["timing"]["exchange"]["communicator"], "mpi");
  EXPECT_EQ(j["timing"]["exchange"]["process_group"], "mpi (2 processes)");
}
#endif

}  // namespace
}  // namespace cnnb
