// Training on GPU 0 through train(), the engine behind `cnnbench train`: each GPU backend against
// cpu-ref step by step, the prefetch pipeline against direct, checkpoint -> resume, --save -> eval, and
// the numerical watchdog's download path (--check-numerics). Strategies with two replicas run on one
// GPU (--devices gpu:0,0). Without a GPU every test reports SKIPPED with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bench/harness/trainer.h"
#include "bench/harness/watchdog.h"
#include "core/model_spec.h"
#include "core/safetensors.h"
#include "datasets/dataset.h"
#include "reports/results.h"
#include "tests/cli_runner.h"
#include "tests/gpu/gpu_skip.h"
#include "tests/strategy_run.h"

namespace cnnb {
namespace {

namespace fs = std::filesystem;
using test::relative_max_diff;
using test::TempDir;

// Every layer kind (padding, LRN, two convolutions, pooling, dense) on 3-channel images.
constexpr const char* kModel = "conv3x3x4p1,relu,lrn3,maxpool2,conv3x3x6,relu,fc8,relu,fc4";
constexpr const char* kData = "synthetic:n=192,shape=3x10x10,classes=4,test=64";
constexpr uint64_t kSeed = 3;

const Dataset& data() {
  static const Dataset d = load_dataset(kData, kSeed);
  return d;
}

ModelPlan plan_of(const std::string& model, const Dataset& d) {
  return plan_model(parse_model(model), d.shape, d.classes);
}

std::string test_name(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// 5 SGD steps with momentum, one per epoch, so each epoch's train loss is that step's loss.
TrainConfig stepwise(const std::string& backend) {
  TrainConfig c;
  c.model = kModel;
  c.dataset = kData;
  c.backend = backend;
  c.batch = 16;
  c.epochs = 5;
  c.steps_per_epoch = 1;
  c.seed = kSeed;
  c.threads = 1;
  c.warmup_steps = 0;
  c.test_limit = 64;
  c.optimizer.kind = OptimizerConfig::Kind::sgd;
  c.optimizer.lr = 0.1;
  c.optimizer.momentum = 0.9;
  return c;
}

// Trains c and hands back the final parameters of replica 0, through --save.
std::vector<float> train_params(TrainConfig c, const fs::path& file, TrainResult& result) {
  c.save_weights = file.string();
  result = train(c, data(), nullptr);
  return load_weights(file, plan_of(c.model, data()));
}

double relative(double a, double b) { return std::abs(a - b) / std::abs(b); }

class GpuTrain : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (const std::string why = test::without_gpus(1); !why.empty()) GTEST_SKIP() << why;
  }
};

// A GPU backend computes in float, accumulating in float (cuDNN with FMA math, no TF32; cuBLAS's
// default math); cpu-ref accumulates in double. Each op then agrees with cpu-ref to about 1e-6
// relative (verify holds them to nmse <= 1e-10), and 5 SGD steps with lr 0.1 add those differences
// up rather than amplify them: cpu-gemm (float BLAS) against cpu-ref on this very run differs by 4e-8
// in the parameters and 2e-8 in the losses. 1e-4 leaves room for cuDNN's Winograd and FFT
// convolutions, which round more, while a kernel that drops a term, mixes up a layout or misapplies
// the update moves the parameters by more than 1e-2 (the run moves them by 0.19 of their scale).
constexpr double kVsRefTol = 1e-4;

TEST_P(GpuTrain, MatchesCpuRefLossPerStepAndParameters) {
  TempDir dir;
  TrainResult ref, gpu;
  const std::vector<float> want = train_params(stepwise("cpu-ref"), dir / "ref.safetensors", ref);
  const std::vector<float> got = train_params(stepwise(GetParam()), dir / "gpu.safetensors", gpu);
  EXPECT_EQ(gpu.devices, "gpu:0");
  EXPECT_TRUE(gpu.fallbacks.empty()) << fmt::format("{}", fmt::join(gpu.fallbacks, "; "));
  const std::vector<float> init = init_params(plan_of(kModel, data()), kSeed);
  ASSERT_GT(relative_max_diff(want, init), 100 * kVsRefTol) << "the run must move the parameters";
  EXPECT_LE(relative_max_diff(got, want), kVsRefTol);
  ASSERT_EQ(gpu.epochs.size(), ref.epochs.size());
  for (size_t s = 0; s < ref.epochs.size(); ++s) {
    EXPECT_LE(relative(gpu.epochs[s].train_loss, ref.epochs[s].train_loss), kVsRefTol) << "step " << s + 1;
    EXPECT_LE(relative(gpu.epochs[s].test_loss, ref.epochs[s].test_loss), kVsRefTol) << "after step " << s + 1;
  }
}

// The same batches reach the GPU either way, through the pinned staging and the copy stream or through
// the step's own upload: the same bits come out.
TEST_P(GpuTrain, PrefetchIsBitIdenticalToDirect) {
  for (const char* devices : {"", "gpu:0,0"}) {
    TempDir dir;
    TrainConfig c = stepwise(GetParam());
    c.epochs = 2;
    c.steps_per_epoch = 4;  // crosses an epoch boundary, where the loaders restart
    if (*devices) {
      c.strategy = "allreduce";
      c.devices = devices;
      c.comm = CommKind::threads;
    }
    TrainResult direct, prefetch;
    const std::vector<float> a = train_params(c, dir / "direct.safetensors", direct);
    c.pipeline = Pipeline::prefetch;
    const std::vector<float> b = train_params(c, dir / "prefetch.safetensors", prefetch);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "devices '" << devices << "'";
    for (size_t e = 0; e < direct.epochs.size(); ++e) {
      EXPECT_EQ(prefetch.epochs[e].train_loss, direct.epochs[e].train_loss) << devices << " epoch " << e + 1;
      EXPECT_EQ(prefetch.epochs[e].test_loss, direct.epochs[e].test_loss) << devices << " epoch " << e + 1;
    }
    ASSERT_EQ(prefetch.steps.size(), 8u);
    for (const StepTimes& t : prefetch.steps) EXPECT_EQ(t.h2d, 0.0) << "the copy is off the step's critical path";
  }
}

// Weights written from the GPU and read back onto it evaluate to the very numbers the training's last
// evaluation gave (same batches, same kernels); on cpu-ref to the same accuracy.
TEST_P(GpuTrain, SavedWeightsEvaluateToTheTrainingsLastEvaluation) {
  TempDir dir;
  TrainConfig c = stepwise(GetParam());
  c.epochs = 2;
  c.steps_per_epoch = 6;
  TrainResult r;
  const std::vector<float> w = train_params(c, dir / "w.safetensors", r);
  ASSERT_TRUE(std::all_of(w.begin(), w.end(), [](float x) { return std::isfinite(x); }));
  EvalConfig e;
  e.model = kModel;
  e.backend = GetParam();
  e.weights = (dir / "w.safetensors").string();
  e.batch = c.batch;
  e.threads = 1;
  e.test_limit = c.test_limit;
  const EvalResult on_gpu = evaluate_weights(e, data());
  EXPECT_EQ(on_gpu.images, 64);
  EXPECT_EQ(on_gpu.loss, r.epochs.back().test_loss);
  EXPECT_EQ(on_gpu.accuracy, r.epochs.back().test_accuracy);
  e.backend = "cpu-ref";
  const EvalResult on_cpu = evaluate_weights(e, data());
  EXPECT_LE(relative(on_cpu.loss, on_gpu.loss), kVsRefTol);
  EXPECT_EQ(on_cpu.accuracy, on_gpu.accuracy);
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuTrain, ::testing::Values("cuda-naive", "cuda-gemm", "cudnn"),
                         [](const auto& info) { return test_name(info.param); });

// ---- checkpoint -> resume

struct ResumeCase {
  const char* backend;
  const char* optimizer;
  const char* strategy;
  const char* devices;
};

void PrintTo(const ResumeCase& c, std::ostream* os) {
  *os << c.backend << " " << c.optimizer << " " << c.strategy << " '" << c.devices << "'";
}

class GpuResume : public ::testing::TestWithParam<ResumeCase> {
 protected:
  void SetUp() override {
    if (const std::string why = test::without_gpus(1); !why.empty()) GTEST_SKIP() << why;
  }
};

// 10 steps straight, and 6 steps + checkpoint + resume + 4 steps, give the same bits: the parameters and
// the optimizer's state (momentum, Adam's moments and step count) are all downloaded and restored.
TEST_P(GpuResume, StraightEqualsCheckpointResumeContinue) {
  const ResumeCase p = GetParam();
  TrainConfig c = stepwise(p.backend);
  c.epochs = 2;
  c.steps_per_epoch = 5;
  c.optimizer.kind = parse_optimizer_kind(p.optimizer);
  if (c.optimizer.kind == OptimizerConfig::Kind::adam) {
    c.optimizer.lr = 0.01;
    c.optimizer.momentum = 0;
  }
  c.strategy = p.strategy;
  c.devices = p.devices;
  if (*p.devices) c.comm = CommKind::threads;
  TempDir dir;
  TrainResult straight, with_ck, resumed;
  const std::vector<float> a = train_params(c, dir / "straight.safetensors", straight);

  TrainConfig ck = c;
  ck.checkpoint_every = 3;
  ck.checkpoint_dir = (dir / "ck").string();
  train_params(ck, dir / "ck.safetensors", with_ck);
  ASSERT_EQ(with_ck.checkpoints.size(), 3u);

  TrainConfig again = c;
  again.resume = (dir / "ck" / "ckpt-000000006.safetensors").string();
  const std::vector<float> b = train_params(again, dir / "resumed.safetensors", resumed);
  EXPECT_EQ(resumed.resumed_at_step, 6);
  EXPECT_EQ(resumed.steps.size(), 4u);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "resume is not bit-exact";
  ASSERT_EQ(resumed.epochs.size(), straight.epochs.size());
  for (size_t e = 0; e < straight.epochs.size(); ++e) {
    EXPECT_EQ(resumed.epochs[e].train_loss, straight.epochs[e].train_loss) << e;
    EXPECT_EQ(resumed.epochs[e].test_loss, straight.epochs[e].test_loss) << e;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuResume,
                         ::testing::Values(ResumeCase{"cuda-naive", "sgd", "single", ""},
                                           ResumeCase{"cuda-naive", "adam", "single", ""},
                                           ResumeCase{"cuda-gemm", "sgd", "single", ""},
                                           ResumeCase{"cuda-gemm", "adam", "single", ""},
                                           ResumeCase{"cudnn", "sgd", "single", ""},
                                           ResumeCase{"cudnn", "adam", "single", ""},
                                           ResumeCase{"cuda-naive", "sgd", "allreduce", "gpu:0,0"},
                                           ResumeCase{"cudnn", "adam", "independent", "gpu:0,0"}),
                         [](const auto& info) {
                           const ResumeCase& c = info.param;
                           return test_name(fmt::format("{}_{}_{}{}", c.backend, c.optimizer, c.strategy,
                                                        *c.devices ? "_gpu00" : ""));
                         });

// ---- the numerical watchdog on a GPU: --check-numerics downloads outputs and gradients

// 1x18x18 images: conv1 4x16x16, pool1 4x8x8, fc1 10x256.
constexpr const char* kWatchModel = "conv3x3x4,relu,maxpool2,fc10";
constexpr const char* kWatchData = "synthetic:n=64,shape=1x18x18,classes=10,test=16";

const Dataset& watch_data() {
  static const Dataset d = load_dataset(kWatchData, kSeed);
  return d;
}

// Weights whose forward pass is finite but whose conv1 gradient overflows float. conv1's weights of
// 1e-6 keep its outputs near 1e-5, so fc1's logits, up to 3e38 * 256 * 1e-5 ~ 1e36, stay finite and so
// does the loss; the logits differ by ~1e34 between classes, so the softmax is one-hot and the
// output gradient is +-1/16. Back through fc1 that is 3e37 * (9 - label) / 16 per pooled element, and
// conv1's weight gradient sums 64 such terms (times pixels in [0, 1]) per image over 16 images: about
// 1e40, far above float's 3.4e38. Only the gradient is non-finite: on a GPU only --check-numerics
// (which downloads the gradients) can see it at this step. A CPU replica, whose gradients are always
// scanned, stops this run (cpu-ref, seed 3) at step 1 with "the gradient conv1.weight[0] (layer conv1) is
// inf (the loss is 1.92275e+35)".
std::vector<float> overflowing_gradient_weights(const ModelPlan& plan) {
  std::vector<float> w = init_params(plan, kSeed);
  const auto fill = [&](size_t p, auto value) {
    for (int64_t i = 0; i < plan.params[p].count; ++i) w[size_t(plan.params[p].offset + i)] = value(i);
  };
  const int64_t inputs = plan.params[2].count / 10;
  fill(0, [](int64_t) { return 1e-6f; });
  fill(1, [](int64_t) { return 0.0f; });
  fill(2, [&](int64_t i) { return 3e37f * float(i / inputs + 1); });  // [class][input]: class 9 gets 3e38
  fill(3, [](int64_t) { return 0.0f; });
  return w;
}

// conv1 weights of 1e38: 9 products with pixels in [0, 1] overflow somewhere in the first batch.
std::vector<float> overflowing_output_weights(const ModelPlan& plan) {
  std::vector<float> w = init_params(plan, kSeed);
  for (int64_t i = 0; i < plan.params[0].count; ++i) w[size_t(plan.params[0].offset + i)] = 1e38f;
  return w;
}

TrainConfig watch_config(const std::string& backend, const fs::path& init) {
  TrainConfig c;
  c.model = kWatchModel;
  c.dataset = kWatchData;
  c.backend = backend;
  c.batch = 16;
  c.epochs = 1;
  c.steps_per_epoch = 2;
  c.seed = kSeed;
  c.warmup_steps = 0;
  c.test_limit = 16;
  c.optimizer.kind = OptimizerConfig::Kind::sgd;
  c.optimizer.lr = 0.01;
  c.init_weights = init.string();
  c.check_numerics = true;
  return c;
}

// The message and the record of a run that must diverge.
struct Diverged {
  std::string message;
  int64_t global_step = 0;
  nlohmann::json record;
};

Diverged run_to_divergence(const TrainConfig& c) {
  try {
    train(c, watch_data(), nullptr);
  } catch (const TrainingDiverged& e) {
    return {e.what(), e.global_step, diverged_record(e, watch_data())};
  }
  ADD_FAILURE() << c.backend << ": the run did not diverge";
  return {};
}

class GpuWatchdog : public GpuTrain {};

TEST_P(GpuWatchdog, CheckNumericsDownloadsTheGradientsAndNamesTheParameterAndLayer) {
  TempDir dir;
  const ModelPlan plan = plan_of(kWatchModel, watch_data());
  save_weights(dir / "w.safetensors", plan, overflowing_gradient_weights(plan), {{"format", "pt"}});
  const Diverged d = run_to_divergence(watch_config(GetParam(), dir / "w.safetensors"));
  EXPECT_EQ(d.global_step, 1);
  // The loss is finite (the message gives its value): the gradient download found the value.
  static const std::regex message(
      R"(^training diverged at step 1 \(epoch 1, step 1 of 2\): the gradient conv1\.(weight|bias)\[\d+\] \(layer conv1\) is (inf|-inf|nan) \(the loss is \d[^)]*\); try a smaller --lr$)");
  EXPECT_TRUE(std::regex_search(d.message, message)) << d.message;
  EXPECT_EQ(d.record["status"], "diverged");
  EXPECT_EQ(d.record["diverged_at"]["global_step"], 1);
}

TEST_P(GpuWatchdog, CheckNumericsNamesTheFirstLayerWithANonFiniteOutput) {
  TempDir dir;
  const ModelPlan plan = plan_of(kWatchModel, watch_data());
  save_weights(dir / "w.safetensors", plan, overflowing_output_weights(plan), {{"format", "pt"}});
  const Diverged d = run_to_divergence(watch_config(GetParam(), dir / "w.safetensors"));
  EXPECT_EQ(d.global_step, 1);
  // cuDNN's Winograd or FFT transforms may turn the overflow into nan.
  static const std::regex message(
      R"(^training diverged at step 1 \(epoch 1, step 1 of 2\): layer conv1 produced (inf|-inf|nan): conv1 output\[image \d+, element \d+\]; try a smaller --lr$)");
  EXPECT_TRUE(std::regex_search(d.message, message)) << d.message;
  EXPECT_EQ(d.record["status"], "diverged");
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuWatchdog, ::testing::Values("cuda-naive", "cuda-gemm", "cudnn"),
                         [](const auto& info) { return test_name(info.param); });

// Through the CLI as a user runs it: exit code 3, one message, and a run record saying "diverged".
TEST(GpuWatchdogCli, ADivergedGpuRunExitsThreeAndRecordsDiverged) {
  if (const std::string why = test::without_gpus(1); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  const ModelPlan plan = plan_of(kWatchModel, watch_data());
  save_weights(dir / "w.safetensors", plan, overflowing_gradient_weights(plan), {{"format", "pt"}});
  const fs::path out = dir / "run.json";
  const auto r = test::run_cli(fmt::format(
      "train --model {} --dataset '{}' --backend cuda-naive --batch 16 --steps 2 --epochs 1 --warmup 0 --test-limit 16 "
      "--seed {} --optimizer sgd --lr 0.01 --init '{}' --check-numerics --out '{}'",
      kWatchModel, kWatchData, kSeed, (dir / "w.safetensors").string(), out.string()));
  EXPECT_EQ(r.exit_code, kDivergedExitCode) << r.out;
  EXPECT_NE(r.out.find("cnnbench: error: training diverged at step 1 (epoch 1, step 1 of 2): the gradient conv1."),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("cnnbench: error:"), r.out.rfind("cnnbench: error:")) << "one message: " << r.out;
  std::ifstream in(out);
  ASSERT_TRUE(in) << "no run record at " << out;
  const nlohmann::json rec = nlohmann::json::parse(in);
  EXPECT_EQ(rec["status"], "diverged");
  EXPECT_EQ(rec["config"]["backend"], "cuda-naive");
  EXPECT_TRUE(validate_record(rec).empty()) << rec.dump();
}

}  // namespace
}  // namespace cnnb
