// The numerical watchdog: the scanner and the names it gives on hand-made buffers, the checks on a real
// replica, and through the CLI a run that diverges (exit code, message, run record) and a sweep that
// records a diverged run and goes on.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/harness/watchdog.h"
#include "cli_runner.h"
#include "core/numerics.h"
#include "core/safetensors.h"
#include "reports/results.h"

namespace cnnb {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::TempDir;

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr const char* kModel = "conv3x3x4,relu,maxpool2,fc10";  // 1x10x10: conv1 4x8x8, pool1 4x4x4, fc1 10
constexpr const char* kData = "synthetic:n=64,shape=1x10x10,classes=10,test=16";
constexpr const char* kSweepLr = "1e20";

ModelPlan tiny_plan() { return plan_model(parse_model(kModel), Shape{1, 10, 10}, 10); }

using test::lines_of;

nlohmann::json read_json(const fs::path& f) {
  std::ifstream in(f);
  return nlohmann::json::parse(in);
}

// ---- the scanner and its names

TEST(Numerics, FindsTheFirstNonFiniteElement) {
  const std::vector<float> a = {1, -2, 3e38f, kNaNf, kInf};
  const auto bad = find_non_finite(std::span<const float>(a));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->index, 3);
  EXPECT_TRUE(std::isnan(bad->value));
  const std::vector<double> b = {0, 1, -double(kInf)};
  const auto bad_d = find_non_finite(std::span<const double>(b));
  ASSERT_TRUE(bad_d);
  EXPECT_EQ(bad_d->index, 2);
  EXPECT_EQ(bad_d->value, -double(kInf));
  const std::vector<float> fine = {0, -0.0f, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min()};
  EXPECT_FALSE(find_non_finite(std::span<const float>(fine)));
  EXPECT_FALSE(find_non_finite(std::span<const float>()));
}

TEST(Numerics, FindsTheFirstNonFiniteAcrossBlocksOfAnyLength) {
  // Lengths and positions around the checker's block size (4096), so a block-wise scan that misses a
  // tail, a block edge or the order of two bad values fails here.
  for (const size_t n : {size_t(1), size_t(4095), size_t(4096), size_t(4097), size_t(3 * 4096 + 5)}) {
    for (const size_t at : {size_t(0), n / 2, n - 1}) {
      std::vector<float> v(n, 1.5f);
      v[at] = -kInf;
      if (at + 4096 < n) v[at + 4096] = kNaNf;  // a later bad value in another block must not win
      const auto bad = find_non_finite(std::span<const float>(v));
      ASSERT_TRUE(bad) << n << " " << at;
      EXPECT_EQ(bad->index, int64_t(at)) << n;
      EXPECT_EQ(bad->value, -double(kInf));
      std::vector<double> d(n, -2.0);
      d[at] = double(kNaNf);
      const auto bad_d = find_non_finite(std::span<const double>(d));
      ASSERT_TRUE(bad_d);
      EXPECT_EQ(bad_d->index, int64_t(at));
    }
    EXPECT_FALSE(find_non_finite(std::span<const float>(std::vector<float>(n, 3e38f))));
  }
}

TEST(Numerics, NamesValues) {
  EXPECT_EQ(value_name(double(kNaNf)), "nan");
  EXPECT_EQ(value_name(double(kInf)), "inf");
  EXPECT_EQ(value_name(-double(kInf)), "-inf");
  EXPECT_EQ(value_name(2.5), "2.5");
}

TEST(Numerics, MapsAFlatIndexToTheParameterAndLayer) {
  const ModelPlan plan = tiny_plan();
  // conv1.weight [4,1,3,3] = 36, conv1.bias 4, fc1.weight [10,64] = 640, fc1.bias 10.
  ASSERT_EQ(plan.param_count, 36 + 4 + 640 + 10);
  EXPECT_EQ(describe_param_element(plan, 0), "conv1.weight[0] (layer conv1)");
  EXPECT_EQ(describe_param_element(plan, 37), "conv1.bias[1] (layer conv1)");
  EXPECT_EQ(describe_param_element(plan, 45), "fc1.weight[5] (layer fc1)");
  EXPECT_EQ(describe_param_element(plan, 689), "fc1.bias[9] (layer fc1)");
  EXPECT_THROW(describe_param_element(plan, 690), Error);
  EXPECT_THROW(describe_param_element(plan, -1), Error);
  // Layers: conv1, relu1, pool1, fc1; fc1's output is 10 per image.
  EXPECT_EQ(describe_output_element(plan, 3, 23), "fc1 output[image 2, element 3]");
  EXPECT_EQ(describe_output_element(plan, 0, 256 + 5), "conv1 output[image 1, element 5]");
}

// ---- the watchdog on a real CPU replica

struct OneReplica {
  ModelPlan plan = tiny_plan();
  ReplicaSet rs;
  static ReplicaSetup setup(const ModelPlan& plan) {
    ReplicaSetup s;
    s.plan = plan;
    s.ops = resolve_backend("cpu-ref");
    s.optimizer.kind = OptimizerConfig::Kind::sgd;
    s.devices = parse_devices("cpu:1", DeviceKind::cpu);
    s.threads = 1;
    s.shard = 2;
    s.seed = 7;
    return s;
  }
  OneReplica() : rs(setup(plan)) {}
  // Forward of two images of ones, with conv1.weight set to w.
  void forward_with_conv_weights(float w) {
    rs.run_on(0, [&](Replica& r) {
      std::vector<float> p = r.params();
      for (int64_t i = 0; i < plan.params[0].count; ++i) p[size_t(plan.params[0].offset + i)] = w;
      r.device().upload(r.net().params(), p.data(), p.size() * sizeof(float));
      const std::vector<float> x(2 * 100, 1.0f);
      r.device().upload(r.net().input(), x.data(), x.size() * sizeof(float));
      const std::vector<int32_t> y = {1, 2};
      r.device().upload(r.net().labels(), y.data(), y.size() * sizeof(int32_t));
      r.net().forward(2, true);
      r.device().synchronize();
    });
  }
};

TEST(Watchdog, NamesTheFirstNonFiniteGradientAndTheLoss) {
  OneReplica one;
  Watchdog dog(one.rs, false);
  float* g = one.rs[0].net().grads();  // host memory on a CPU replica
  std::fill(g, g + one.plan.param_count, 0.5f);
  EXPECT_EQ(dog.check(1.25), "");
  g[45] = -kInf;
  g[600] = kNaNf;
  EXPECT_EQ(dog.check(1.25), "the gradient fc1.weight[5] (layer fc1) is -inf (the loss is 1.25)");
  EXPECT_EQ(dog.check(double(kNaNf)), "the loss is nan; the gradient fc1.weight[5] (layer fc1) is -inf");
  std::fill(g, g + one.plan.param_count, 0.5f);
  EXPECT_EQ(dog.check(double(kInf)), "the loss is inf");
}

TEST(Watchdog, WithOutputChecksNamesTheFirstLayerThatOverflows) {
  OneReplica one;
  {
    Watchdog dog(one.rs, true);
    dog.arm();
    one.forward_with_conv_weights(0.5f);
    EXPECT_EQ(dog.check(1.0), "");
    // 9 products of 1e38 overflow float: conv1 is the first layer with a non-finite output, not fc1.
    dog.arm();
    one.forward_with_conv_weights(1e38f);
    EXPECT_EQ(dog.check(1.0), "layer conv1 produced inf: conv1 output[image 0, element 0]");
    dog.arm();  // forgets it
    EXPECT_EQ(dog.check(1.0), "");
  }
  // Without output checks (and after the watchdog is gone) the same forward pass is not looked at.
  Watchdog plain(one.rs, false);
  plain.arm();
  one.forward_with_conv_weights(1e38f);
  EXPECT_EQ(plain.check(1.0), "");
}

TEST(Watchdog, OneProcessAgreesWithItself) {
  const auto pg = make_single_process_group();
  EXPECT_EQ(Watchdog::agree(*pg, ""), "");
  EXPECT_EQ(Watchdog::agree(*pg, "the loss is nan"), "the loss is nan");
}

// ---- through the CLI

std::string train_args(const std::string& extra) {
  return fmt::format("train --model {} --dataset '{}' --backend cpu-gemm --threads 1 --batch 8 --steps 6 --warmup 0 "
                     "--test-limit 16 {}",
                     kModel, kData, extra);
}

TEST(WatchdogCli, AHugeLearningRateStopsTheRunNamingStepParameterAndValue) {
  TempDir dir;
  const fs::path out = dir / "run.json";
  const auto r = run_cli(train_args(fmt::format("--optimizer sgd --lr 1e20 --epochs 2 --out '{}'", out.string())));
  EXPECT_EQ(r.exit_code, kDivergedExitCode) << r.out;
  static const std::regex message(
      R"(cnnbench: error: training diverged at step (\d+) \(epoch (\d+), step (\d+) of 6\): .*(the loss is|the gradient (conv1|fc1)\.(weight|bias)\[\d+\] \(layer (conv1|fc1)\) is) (nan|inf|-inf).*; try a smaller --lr)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, message)) << r.out;
  const nlohmann::json rec = read_json(out);
  EXPECT_EQ(rec["status"], "diverged");
  EXPECT_EQ(rec["reason"].get<std::string>(), m.str(0).substr(std::string("cnnbench: error: ").size()));
  EXPECT_EQ(rec["diverged_at"]["global_step"], std::stoi(m[1]));
  EXPECT_EQ(rec["diverged_at"]["epoch"], std::stoi(m[2]));
  EXPECT_EQ(rec["diverged_at"]["step"], std::stoi(m[3]));
  // The epochs finished before the bad step, and nothing else.
  EXPECT_EQ(rec["epochs"].size(), size_t(std::stoi(m[2]) - 1));
  EXPECT_TRUE(validate_record(rec).empty()) << rec.dump();
  EXPECT_EQ(r.out.find("cnnbench: error:"), r.out.rfind("cnnbench: error:")) << "one message: " << r.out;
}

TEST(WatchdogCli, CheckNumericsNamesTheFirstLayerWithANonFiniteOutput) {
  TempDir dir;
  const ModelPlan plan = tiny_plan();
  std::vector<float> w = init_params(plan, 1);
  for (int64_t i = 0; i < plan.params[0].count; ++i) w[size_t(plan.params[0].offset + i)] = 1e38f;
  const fs::path weights = dir / "huge.safetensors";
  save_weights(weights, plan, w, {{"format", "pt"}});
  // Images are in [0, 1]: conv1's sums of 1e38-sized products overflow somewhere in the first batch.
  auto r = run_cli(train_args(fmt::format("--optimizer sgd --lr 0.01 --init '{}' --check-numerics", weights.string())));
  EXPECT_EQ(r.exit_code, kDivergedExitCode) << r.out;
  EXPECT_NE(r.out.find("training diverged at step 1 (epoch 1, step 1 of 6): layer conv1 produced inf: conv1 output[image "),
            std::string::npos)
      << r.out;
  // Without --check-numerics the same run stops at the same step on the loss or a gradient.
  r = run_cli(train_args(fmt::format("--optimizer sgd --lr 0.01 --init '{}'", weights.string())));
  EXPECT_EQ(r.exit_code, kDivergedExitCode) << r.out;
  EXPECT_NE(r.out.find("training diverged at step 1 (epoch 1, step 1 of 6): the "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("produced"), std::string::npos) << r.out;
  // A healthy run with --check-numerics finishes.
  r = run_cli(train_args("--optimizer sgd --lr 0.01 --check-numerics"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(WatchdogCli, ASweepRecordsTheDivergedRunAndGoesOn) {
  TempDir dir;
  const fs::path out = dir / "r.jsonl";
  // The same lr on two models: plain softmax regression stays finite (if huge), the conv net reaches NaN.
  const std::string args = fmt::format(
      "sweep --models 'fc10' --models '{}' --datasets '{}' --backends cpu-ref --optimizer sgd --lr {} --batches 8 "
      "--steps 6 --warmup 0 --test-limit 16 --threads 1 --out '{}'",
      kModel, kData, kSweepLr, out.string());
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("1 ok, 0 failed, 1 diverged"), std::string::npos) << r.out;
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  int ok = 0, diverged = 0;
  for (const auto& l : lines) {
    EXPECT_TRUE(validate_record(l).empty()) << l.dump();
    if (l["status"] == "ok") {
      ++ok;
      EXPECT_EQ(l["config"]["model_spec"], "fc10");
    } else {
      ++diverged;
      EXPECT_EQ(l["status"], "diverged");
      EXPECT_NE(l["reason"].get<std::string>().find("training diverged at step"), std::string::npos) << l.dump();
      EXPECT_EQ(l["config"]["model_spec"], kModel);
      EXPECT_TRUE(l["sweep"]["config_hash"].is_string());
      EXPECT_EQ(l["sweep"]["completed_repetitions"], 0);
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(diverged, 1);
  // Done is done: a re-run has nothing to do; the report lists the diverged run and charts the other.
  const auto again = run_cli(args);
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("0 to run, 2 already in"), std::string::npos) << again.out;
  const auto rep = run_cli(fmt::format("report '{}' --out '{}' --no-render", out.string(), (dir / "rep").string()));
  ASSERT_EQ(rep.exit_code, 0) << rep.out;
  std::ifstream in(dir / "rep" / "index.md");
  std::stringstream index;
  index << in.rdbuf();
  EXPECT_NE(index.str().find("Runs: **1 ok**, 0 failed, 1 diverged, 0 skipped."), std::string::npos) << index.str();
  EXPECT_NE(index.str().find("| diverged | training diverged at step"), std::string::npos) << index.str();
}

}  // namespace
}  // namespace cnnb
