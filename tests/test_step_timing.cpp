// How a step is timed (--timing events|sync) and what a device error at a sync says. On CPU replicas a
// phase mark is a host timestamp, so both modes must train identically and measure the same phases;
// the phases (the loss and accuracy bookkeeping and --check-numerics' scan included) add up to the
// step's wall time. The fault message is tested with a device whose sync fails with a made-up error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "cli_runner.h"
#include "core/device.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "model/network.h"
#include "core/stream_fault.h"
#include "input_error.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/process_group.h"
#include "strategies/replica.h"
#include "strategies/step_times.h"
#include "strategies/strategy.h"
#include "strategy_run.h"

namespace cnnb {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

struct TimedRun {
  std::vector<std::vector<float>> params;  // per replica
  std::vector<ShardStats> stats;
  std::vector<StepTimes> times;
  std::vector<double> walls;  // each strategy->step call, timed around it
};

// `steps` steps of `strategy` over `replicas` CPU replicas, each step timed from outside.
TimedRun run(TimingMode mode, const std::string& strategy, const std::string& backend, int replicas, int steps,
             ForwardHook<float>* hook = nullptr) {
  const Dataset& data = test::strategy_data();
  const ModelPlan plan = plan_model(parse_model(test::kStrategyModel), data.shape, data.classes);
  OptimizerConfig opt;
  opt.kind = OptimizerConfig::Kind::sgd;
  opt.lr = 0.1;
  opt.momentum = 0.9;
  DeviceList devices;
  for (int i = 0; i < replicas; ++i) devices.ids.push_back(i);
  constexpr int kBatch = 24;
  ReplicaSet rs(ReplicaSetup{plan, resolve_backend(backend), opt, devices, 1, kBatch / replicas, 0,
                             test::kStrategySeed, Pipeline::direct, 2, mode});
  if (hook)
    for (int i = 0; i < rs.size(); ++i) rs[i].net().set_forward_hook(hook);
  const auto pg = make_single_process_group();
  const auto comm = make_communicator(CommKind::threads, *pg, rs.devices(), CommOptions{60});
  const auto strat = make_strategy(strategy);
  strat->setup(rs, *comm);
  const std::vector<int64_t> order = epoch_permutation(data.train.count(), test::kStrategySeed, 1);
  TimedRun out;
  for (int s = 0; s < steps; ++s) {
    StepTimes t;
    const std::span<const int64_t> batch(order.data() + s * kBatch, size_t(kBatch));
    const auto t0 = Clock::now();
    out.stats.push_back(strat->step(rs, *comm, GlobalBatch{data.train, data.shape, batch}, t));
    out.walls.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    out.times.push_back(t);
  }
  strat->settle(rs, *comm);
  for (int i = 0; i < rs.size(); ++i) out.params.push_back(rs[i].params());
  for (int i = 0; i < rs.size(); ++i) rs[i].net().set_forward_hook(nullptr);
  return out;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

TEST(StepTiming, EventsAndSyncTrainTheSameOnCpuReplicas) {
  struct Case {
    const char* strategy;
    const char* backend;
    int replicas;
  };
  for (const Case c : {Case{"single", "cpu-ref", 1}, Case{"allreduce", "cpu-gemm", 2}}) {
    SCOPED_TRACE(c.strategy);
    const TimedRun events = run(TimingMode::events, c.strategy, c.backend, c.replicas, 5);
    const TimedRun sync = run(TimingMode::sync, c.strategy, c.backend, c.replicas, 5);
    ASSERT_EQ(events.params.size(), size_t(c.replicas));
    for (size_t i = 0; i < events.params.size(); ++i) EXPECT_EQ(events.params[i], sync.params[i]) << "replica " << i;
    for (size_t s = 0; s < events.stats.size(); ++s) {
      EXPECT_EQ(events.stats[s].loss_sum, sync.stats[s].loss_sum) << "step " << s;
      EXPECT_EQ(events.stats[s].correct, sync.stats[s].correct) << "step " << s;
    }
    // The parameters moved: the comparison is not between two untouched models.
    const Dataset& data = test::strategy_data();
    const ModelPlan plan = plan_model(parse_model(test::kStrategyModel), data.shape, data.classes);
    EXPECT_NE(events.params[0], init_params(plan, test::kStrategySeed));
  }
}

// The bookkeeping (losses and logits to the host, argmax) is a phase of its own, so nothing of the step
// is left outside the phases: what the caller waited for is their sum, up to its own call overhead.
TEST(StepTiming, PhasesAddUpToTheStepWallTimeInBothModes) {
  for (const TimingMode mode : {TimingMode::events, TimingMode::sync}) {
    SCOPED_TRACE(timing_mode_name(mode));
    const TimedRun r = run(mode, "single", "cpu-ref", 1, 12);
    std::vector<double> gaps;
    for (size_t s = 0; s < r.times.size(); ++s) {
      const StepTimes& t = r.times[s];
      EXPECT_LE(t.total(), r.walls[s]) << "step " << s;
      EXPECT_GT(t.metrics, 0) << "step " << s;
      EXPECT_GT(t.forward, 0) << "step " << s;
      EXPECT_GT(t.backward, 0) << "step " << s;
      EXPECT_EQ(t.numerics, 0) << "step " << s;
      gaps.push_back(r.walls[s] - t.total());
    }
    // The median step leaves less than 1 ms outside its phases (a step here takes several ms).
    EXPECT_LT(median_of(gaps), 1e-3);
    EXPECT_GT(median_of(r.walls), 2 * median_of(gaps));
  }
}

// A hook that takes 20 ms per layer, as a slow numerics scan would.
class SlowHook final : public ForwardHook<float> {
 public:
  void layer_output(size_t, const float*, size_t) override {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int calls = 0;
};

TEST(StepTiming, AForwardHooksTimeIsNumericsNotForward) {
  for (const TimingMode mode : {TimingMode::events, TimingMode::sync}) {
    SCOPED_TRACE(timing_mode_name(mode));
    SlowHook hook;
    const TimedRun r = run(mode, "single", "cpu-ref", 1, 3, &hook);
    const int layers = 6;  // conv, relu, maxpool, fc, relu, fc
    EXPECT_EQ(hook.calls, 3 * layers);
    for (size_t s = 0; s < r.times.size(); ++s) {
      const StepTimes& t = r.times[s];
      EXPECT_GE(t.numerics, layers * 0.020) << "step " << s;
      EXPECT_LT(t.forward, 0.020) << "step " << s;  // the model's own forward takes well under a millisecond
      EXPECT_LE(t.total(), r.walls[s]) << "step " << s;
    }
  }
}

TEST(StepTiming, ABadTimingModeIsRefusedNamingTheFlagAndTheChoices) {
  EXPECT_EQ(parse_timing_mode("sync"), TimingMode::sync);
  EXPECT_EQ(parse_timing_mode("events"), TimingMode::events);
  EXPECT_EQ(test::input_error([] { parse_timing_mode("async"); }),
            "--timing 'async' is not a timing mode; expected events (phase marks on the device's stream) or sync (a "
            "sync at the end of every phase)");
  const auto r = test::run_cli(std::string("train --timing Events --dataset ") + test::kStrategyData);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--timing 'Events' is not a timing mode; expected events"));
}

nlohmann::json train_record(const std::string& flags) {
  test::TempDir dir;
  const auto out = dir / "run.json";
  const auto r = test::run_cli(fmt::format("train --dataset {} --model {} --batch 12 --steps 6 --warmup 1 --test-limit 16 "
                                           "{} --out '{}'",
                                           test::kStrategyData, test::kStrategyModel, flags, out.string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::ifstream in(out);
  return nlohmann::json::parse(in);
}

TEST(StepTimingCli, TheRunRecordSaysTheModeAndWhatNumericsCost) {
  const auto plain = train_record("");
  EXPECT_EQ(plain["timing"]["mode"], "events");
  EXPECT_EQ(plain["config"]["check_numerics"], false);
  EXPECT_TRUE(plain["timing"]["numerics_ms"].is_null());
  EXPECT_GT(plain["timing"]["phases_ms"]["metrics"]["median"].get<double>(), 0);
  EXPECT_EQ(plain["timing"]["phases_ms"]["numerics"]["max"], 0.0);
  // CPU replicas: the driver's figures and pinned memory do not exist.
  EXPECT_TRUE(plain["memory"]["device"].is_null());
  EXPECT_TRUE(plain["memory"]["pinned_host_bytes"].is_null());

  const auto checked = train_record("--timing sync --check-numerics");
  EXPECT_EQ(checked["timing"]["mode"], "sync");
  EXPECT_EQ(checked["config"]["check_numerics"], true);
  ASSERT_TRUE(checked["timing"]["numerics_ms"].is_object());
  EXPECT_GT(checked["timing"]["numerics_ms"]["median"].get<double>(), 0);
  EXPECT_EQ(checked["timing"]["numerics_ms"], checked["timing"]["phases_ms"]["numerics"]);
}

// ---- a device error at a sync

TEST(StreamFault, TheMessageNamesPhaseLastOpAndCudaLaunchBlocking) {
  const std::string one = stream_fault_message(
      {"gpu:1 (Made-up GPU)", StepPhase::backward, StepPhase::backward, "conv_bwd_data/cuda/naive of layer conv2 (backward)",
       "cudaStreamSynchronize(stream) failed: cudaErrorIllegalAddress (an illegal memory access was encountered)"});
  EXPECT_EQ(one,
            "gpu:1 (Made-up GPU): the device reported an error at the sync that ends the backward phase: "
            "cudaStreamSynchronize(stream) failed: cudaErrorIllegalAddress (an illegal memory access was encountered). "
            "The last op queued before that sync was conv_bwd_data/cuda/naive of layer conv2 (backward), but queued work "
            "runs asynchronously, so the op that faulted may be any queued since the previous sync: rerun with "
            "CUDA_LAUNCH_BLOCKING=1 (every launch then waits for its kernel) to find it");
  const std::string several = stream_fault_message({"gpu:0", StepPhase::h2d, StepPhase::metrics, "x", "boom"});
  EXPECT_THAT(several, HasSubstr("the sync that ends the phases from h2d to metrics (loss and logits to the host): boom"));
  EXPECT_THAT(several, HasSubstr("CUDA_LAUNCH_BLOCKING=1"));
  EXPECT_THAT(several, HasSubstr("or with --timing sync to narrow it to one phase"));
}

// A CPU device whose sync fails the way a GPU's does after a kernel faulted.
class FaultyDevice final : public Device {
 public:
  explicit FaultyDevice(bool input_error = false) : cpu_(make_cpu_device(0, 1)), input_error_(input_error) {}
  const ExecCtx& ctx() const override { return cpu_->ctx(); }
  std::string name() const override { return "gpu:7 (made up)"; }
  void* alloc(size_t bytes) override { return cpu_->alloc(bytes); }
  void free(void* p) noexcept override { cpu_->free(p); }
  void upload(void* d, const void* s, size_t b) override { cpu_->upload(d, s, b); }
  void download(void* d, const void* s, size_t b) override { cpu_->download(d, s, b); }
  void copy(void* d, const void* s, size_t b) override { cpu_->copy(d, s, b); }
  void zero(void* p, size_t b) override { cpu_->zero(p, b); }
  void synchronize() override {
    if (input_error_) fail_input("not a device error");
    fail("cudaStreamSynchronize(stream) failed: cudaErrorLaunchFailure (unspecified launch failure)");
  }
  void* alloc_host(size_t bytes) override { return cpu_->alloc_host(bytes); }
  void free_host(void* p) noexcept override { cpu_->free_host(p); }
  void upload_now(void* d, const void* s, size_t b) override { cpu_->upload_now(d, s, b); }
  size_t workspace_bytes() const override { return cpu_->workspace_bytes(); }

 private:
  std::unique_ptr<Device> cpu_;
  bool input_error_;
};

TEST(StreamFault, AFailedSyncIsRewordedAndBadInputPassesUnchanged) {
  FaultyDevice dev;
  int described = 0;
  try {
    synchronize_phases(dev, StepPhase::update, StepPhase::update, [&] {
      ++described;
      return std::string("sgd_update/cuda/naive (the optimizer step)");
    });
    ADD_FAILURE() << "the sync did not fail";
  } catch (const InputError&) {
    ADD_FAILURE() << "a device error became bad input";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("gpu:7 (made up): the device reported an error at the sync that ends the update "
                                    "phase: cudaStreamSynchronize(stream) failed: cudaErrorLaunchFailure"));
    EXPECT_THAT(e.what(), HasSubstr("The last op queued before that sync was sgd_update/cuda/naive (the optimizer step)"));
  }
  EXPECT_EQ(described, 1);
  FaultyDevice refusing(true);
  EXPECT_EQ(test::input_error([&] {
              synchronize_phases(refusing, StepPhase::h2d, StepPhase::h2d, [] { return std::string("x"); });
            }),
            "not a device error");
}

TEST(StreamFault, TheNetworkNamesTheLastOpItQueued) {
  const Dataset& data = test::strategy_data();
  const ModelPlan plan = plan_model(parse_model(test::kStrategyModel), data.shape, data.classes);
  const OpSet<float> ops = resolve_backend("cpu-ref");
  const auto dev = make_cpu_device(0, 1);
  Network<float> net(plan, ops, *dev, 4);
  EXPECT_EQ(net.last_op(), "none (this network had queued no op)");
  const std::vector<int32_t> labels = {0, 1, 2, 3};
  dev->zero(net.input(), 4 * size_t(plan.input.size()) * sizeof(float));
  dev->upload(net.labels(), labels.data(), labels.size() * sizeof(int32_t));
  net.forward(4, true);
  EXPECT_EQ(net.last_op(), ops.chosen[size_t(Op::softmax_xent)] + " of the loss (forward)");
  net.backward(4);
  // conv1 is the first layer: nobody needs the gradient of the images, so its filter gradient is last.
  const std::string last = ops.chosen[size_t(Op::conv_bwd_filter)] + " of layer conv1 (backward)";
  EXPECT_EQ(net.last_op(), last);
  std::vector<float> losses(4), logits(4 * size_t(plan.classes));
  net.queue_outputs(4, losses.data(), logits.data());
  EXPECT_EQ(net.last_op(), "the copy of the losses and logits to the host, after " + last);
  double sum = 0;
  for (const float l : losses) sum += double(l);
  EXPECT_EQ(sum / 4, net.mean_loss(4));
}

// --check-numerics' hook on a device whose sync fails: the forward phase and the layer are named.
TEST(StreamFault, AFaultBeforeAForwardHookNamesTheForwardPhaseAndTheLayer) {
  const Dataset& data = test::strategy_data();
  const ModelPlan plan = plan_model(parse_model(test::kStrategyModel), data.shape, data.classes);
  const OpSet<float> ops = resolve_backend("cpu-ref");
  FaultyDevice dev;
  Network<float> net(plan, ops, dev, 2);
  SlowHook never;
  net.set_forward_hook(&never);
  try {
    net.forward(2, true);
    ADD_FAILURE() << "forward did not fail";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("the sync that ends the forward phase"));
    EXPECT_THAT(e.what(), HasSubstr("was " + ops.chosen[size_t(Op::conv_fwd)] + " of layer conv1 (forward)"));
  }
  EXPECT_EQ(never.calls, 0);
}

}  // namespace
}  // namespace cnnb
