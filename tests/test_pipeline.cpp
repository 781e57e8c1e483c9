// The prefetch data pipeline: the loader hands out exactly the batches direct builds, so training is
// bit for bit the same; its errors reach the step; it stops without hanging however a run ends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "bench/harness/trainer.h"
#include "cli_runner.h"
#include "core/device.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "input_error.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/process_group.h"
#include "strategies/replica.h"
#include "strategies/strategy.h"

namespace cnnb {
namespace {

using ::testing::HasSubstr;

constexpr const char* kModel = "conv3x3x4,relu,maxpool2,fc8,relu,fc4";
constexpr const char* kData = "synthetic:n=120,shape=1x10x10,classes=4,test=16";
constexpr uint64_t kSeed = 11;

const Dataset& data() {
  static const Dataset d = load_dataset(kData, kSeed);
  return d;
}

struct RunSpec {
  Pipeline pipeline = Pipeline::direct;
  std::string strategy = "single";
  std::string backend = "cpu-ref";
  int replicas = 1;
  int batch = 12;
  int epochs = 2;
  int steps = 3;           // per epoch; the epoch has 10
  int64_t first_step = 0;  // of the first epoch, as a resumed run starts
  int depth = 2;
};

struct Outcome {
  std::vector<std::vector<float>> params;  // per replica
  std::vector<ShardStats> stats;
  std::vector<StepTimes> times;
};

// The trainer's loop, without evaluation: epochs of `steps` global batches in the seeded order.
Outcome train_steps(const RunSpec& run) {
  const Dataset& d = data();
  const ModelPlan plan = plan_model(parse_model(kModel), d.shape, d.classes);
  OptimizerConfig opt;
  opt.kind = OptimizerConfig::Kind::sgd;
  opt.lr = 0.1;
  opt.momentum = 0.9;
  DeviceList devices;
  for (int i = 0; i < run.replicas; ++i) devices.ids.push_back(i);
  ReplicaSet rs(ReplicaSetup{plan, resolve_backend(run.backend), opt, devices, 1, run.batch / run.replicas, 0, kSeed,
                             run.pipeline, run.depth});
  const auto pg = make_single_process_group();
  const auto comm = make_communicator(CommKind::threads, *pg, rs.devices(), CommOptions{60});
  const auto strategy = make_strategy(run.strategy);
  strategy->setup(rs, *comm);
  Outcome out;
  for (int epoch = 1; epoch <= run.epochs; ++epoch) {
    const std::vector<int64_t> order = epoch_permutation(d.train.count(), kSeed, epoch);
    const int64_t first = epoch == 1 ? run.first_step : 0;
    rs.begin_epoch(d.train, d.shape, order, run.batch, first, run.steps);
    for (int64_t s = first; s < run.steps; ++s) {
      StepTimes t;
      const std::span<const int64_t> batch(order.data() + s * run.batch, size_t(run.batch));
      out.stats.push_back(strategy->step(rs, *comm, GlobalBatch{d.train, d.shape, batch}, t));
      out.times.push_back(t);
    }
    rs.end_epoch();
  }
  strategy->settle(rs, *comm);
  for (int i = 0; i < rs.size(); ++i) out.params.push_back(rs[i].params());
  return out;
}

void expect_same_training(const Outcome& direct, const Outcome& prefetch) {
  ASSERT_EQ(direct.params.size(), prefetch.params.size());
  for (size_t i = 0; i < direct.params.size(); ++i) EXPECT_EQ(direct.params[i], prefetch.params[i]) << "replica " << i;
  ASSERT_EQ(direct.stats.size(), prefetch.stats.size());
  for (size_t s = 0; s < direct.stats.size(); ++s) {
    EXPECT_EQ(direct.stats[s].loss_sum, prefetch.stats[s].loss_sum) << "step " << s;
    EXPECT_EQ(direct.stats[s].correct, prefetch.stats[s].correct) << "step " << s;
    EXPECT_EQ(direct.stats[s].images, prefetch.stats[s].images) << "step " << s;
  }
  // The copy is off the step's critical path.
  for (const StepTimes& t : prefetch.times) EXPECT_EQ(t.h2d, 0.0);
}

struct Case {
  std::string strategy, backend;
  int replicas;
};

class PrefetchMatchesDirect : public ::testing::TestWithParam<Case> {};

TEST_P(PrefetchMatchesDirect, BitForBitAcrossAnEpochBoundary) {
  RunSpec run;
  run.strategy = GetParam().strategy;
  run.backend = GetParam().backend;
  run.replicas = GetParam().replicas;
  const Outcome direct = train_steps(run);
  run.pipeline = Pipeline::prefetch;
  expect_same_training(direct, train_steps(run));
  // A ring of one slot has no overlap but must still hand out the same batches.
  run.depth = 1;
  expect_same_training(direct, train_steps(run));
  // The parameters did move: the comparison is not between two untouched models.
  const Dataset& d = data();
  const ModelPlan plan = plan_model(parse_model(kModel), d.shape, d.classes);
  EXPECT_NE(direct.params[0], init_params(plan, kSeed));
}

INSTANTIATE_TEST_SUITE_P(Steps, PrefetchMatchesDirect,
                         ::testing::Values(Case{"single", "cpu-ref", 1}, Case{"single", "cpu-gemm", 1},
                                           Case{"allreduce", "cpu-ref", 2}, Case{"allreduce", "cpu-gemm", 2}),
                         [](const auto& info) {
                           std::string n = info.param.strategy + "_" + info.param.backend;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Prefetch, StartsMidEpochAsAResumedRunDoes) {
  RunSpec run;
  run.epochs = 1;
  run.steps = 5;
  run.first_step = 2;
  const Outcome direct = train_steps(run);
  run.pipeline = Pipeline::prefetch;
  expect_same_training(direct, train_steps(run));
}

// A split of 6 images of 1x1x2 whose pixel values identify them: image i = {2i, 2i+1}, label i.
Split tiny_split() {
  Split s;
  for (int i = 0; i < 6; ++i) {
    s.images.push_back(uint8_t(2 * i));
    s.images.push_back(uint8_t(2 * i + 1));
    s.labels.push_back(i);
  }
  return s;
}

TEST(BatchLoader, HandsOutItsShardOfEveryStepInOrder) {
  const auto dev = make_cpu_device(0, 1);
  const Split split = tiny_split();
  const Shape shape{1, 1, 2};
  // Global batches of 3, shard of 2 at offset 1: step s holds order[3s+1], order[3s+2].
  const std::vector<int64_t> order = {5, 4, 3, 2, 1, 0};
  BatchLoader loader(*dev, shape, 2, 2);
  loader.start(split, order, 3, 1, 0, 2);
  for (int64_t s = 0; s < 2; ++s) {
    const BatchLoader::Batch b = loader.next();
    EXPECT_EQ(b.step, s);
    const std::vector<int64_t> want = {order[size_t(3 * s + 1)], order[size_t(3 * s + 2)]};
    EXPECT_EQ(std::vector<int64_t>(b.indices.begin(), b.indices.end()), want);
    for (size_t k = 0; k < 2; ++k) {
      const auto img = want[k];
      EXPECT_EQ(b.x[2 * k], float(2 * img) / 255.0f);
      EXPECT_EQ(b.x[2 * k + 1], float(2 * img + 1) / 255.0f);
      EXPECT_EQ(b.y[k], int32_t(img));
      EXPECT_EQ(b.host_y[k], int32_t(img));
    }
  }
  try {
    loader.next();
    ADD_FAILURE() << "a third step of a two-step epoch";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("asked for step 3, but the epoch has 2 steps"));
  }
  EXPECT_EQ(loader.device_bytes(), 2u * (2 * 2 * sizeof(float) + 2 * sizeof(int32_t)));
}

TEST(BatchLoader, RethrowsTheErrorOfItsThreadOnTheStepThatNeedsIt) {
  const auto dev = make_cpu_device(0, 1);
  const Split split = tiny_split();
  const std::vector<int64_t> order = {0, 1, 2, 3, 99, 5};  // step 2 asks for an image that does not exist
  BatchLoader loader(*dev, Shape{1, 1, 2}, 2, 3);
  loader.start(split, order, 2, 0, 0, 3);
  EXPECT_EQ(loader.next().indices[0], 0);  // the steps before it are intact
  EXPECT_EQ(loader.next().indices[0], 2);
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      loader.next();
      ADD_FAILURE() << "step 3 holds image 99 of 6";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("index 99 is outside the split of 6 images"));
    }
  }
  // A new epoch clears the error.
  const std::vector<int64_t> good = {5, 4, 3, 2, 1, 0};
  loader.start(split, good, 2, 0, 0, 3);
  EXPECT_EQ(loader.next().indices[0], 5);
}

TEST(BatchLoader, StopsWhileItsThreadWaitsForAFreeSlot) {
  const auto dev = make_cpu_device(0, 1);
  const Split split = tiny_split();
  std::vector<int64_t> order(600);
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i % 6);
  {
    BatchLoader loader(*dev, Shape{1, 1, 2}, 1, 2);
    loader.start(split, order, 1, 0, 0, 600);
    EXPECT_EQ(loader.next().indices[0], 0);
    // The thread fills the other slot and waits: the destructor must wake it and join.
  }
  BatchLoader loader(*dev, Shape{1, 1, 2}, 1, 2);
  loader.start(split, order, 1, 0, 0, 600);
  loader.stop();
  loader.stop();  // idempotent
  try {
    loader.next();
    ADD_FAILURE() << "a batch after stop()";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("before an epoch was started"));
  }
}

TEST(Prefetch, AStepOutOfTheEpochsOrderIsAnErrorNotADifferentBatch) {
  const Dataset& d = data();
  const ModelPlan plan = plan_model(parse_model(kModel), d.shape, d.classes);
  DeviceList devices;
  devices.ids = {0};
  ReplicaSet rs(ReplicaSetup{plan, resolve_backend("cpu-ref"), OptimizerConfig{}, devices, 1, 12, 0, kSeed,
                             Pipeline::prefetch, 2});
  const std::vector<int64_t> order = epoch_permutation(d.train.count(), kSeed, 1);
  rs.begin_epoch(d.train, d.shape, order, 12, 0, 10);
  StepTimes t;
  try {
    rs.compute(d.train, d.shape, std::span(order.data() + 12, 12), t);  // step 2 first
    ADD_FAILURE() << "compute took step 1's batch for step 2";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("holds step 1 of the epoch begun, but the step asked for other images"));
  }
  // The set is destroyed mid-epoch with its loader waiting for a free slot: no hang.
}

TrainConfig quick_config() {
  TrainConfig c;
  c.model = kModel;
  c.dataset = kData;
  c.batch = 12;
  c.epochs = 2;
  c.steps_per_epoch = 4;
  c.seed = kSeed;
  c.test_limit = 16;
  return c;
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Prefetch, TrainerGivesTheSameRunAndWeightsAsDirect) {
  test::TempDir dir;
  TrainConfig c = quick_config();
  c.strategy = "allreduce";
  c.devices = "cpu:2";
  c.threads = 1;
  c.save_weights = (dir / "direct.safetensors").string();
  const TrainResult direct = train(c, data(), nullptr);
  c.pipeline = Pipeline::prefetch;
  c.save_weights = (dir / "prefetch.safetensors").string();
  const TrainResult prefetch = train(c, data(), nullptr);
  ASSERT_EQ(direct.epochs.size(), 2u);
  ASSERT_EQ(prefetch.epochs.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(direct.epochs[e].train_loss, prefetch.epochs[e].train_loss);
    EXPECT_EQ(direct.epochs[e].train_accuracy, prefetch.epochs[e].train_accuracy);
    // Evaluation reads the network's own input again, not the last prefetch slot.
    EXPECT_EQ(direct.epochs[e].test_loss, prefetch.epochs[e].test_loss);
    EXPECT_EQ(direct.epochs[e].test_accuracy, prefetch.epochs[e].test_accuracy);
  }
  EXPECT_EQ(file_bytes(dir / "direct.safetensors"), file_bytes(dir / "prefetch.safetensors"));
  // Two slots of 6 images of 1x10x10 and their labels, on top of the network's own batch buffers.
  EXPECT_EQ(prefetch.replica_memory.at("batch_buffers") - direct.replica_memory.at("batch_buffers"),
            2 * (6 * 100 * 4 + 6 * 4));
}

TEST(Prefetch, ARunThatFailsMidEpochStopsItsLoaders) {
  TrainConfig c = quick_config();
  c.pipeline = Pipeline::prefetch;
  c.steps_per_epoch = 10;
  c.optimizer.kind = OptimizerConfig::Kind::sgd;
  c.optimizer.lr = 1e30;  // diverges within a few steps, while the loader has batches queued
  try {
    train(c, data(), nullptr);
    ADD_FAILURE() << "training with lr 1e30 did not diverge";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("training diverged"));
  }
}

TEST(Prefetch, BadPipelineAndDepthNameTheFlag) {
  TrainConfig c = quick_config();
  EXPECT_EQ(test::input_error([&] { parse_pipeline("async", "--pipeline"); }),
            "--pipeline 'async' is not a data pipeline; expected direct or prefetch");
  c.pipeline = Pipeline::prefetch;
  c.prefetch_depth = 0;
  EXPECT_EQ(test::input_error([&] { validate(c); }), "--prefetch-depth must be a positive integer, got 0");
}

TEST(PrefetchCli, BogusPipelineIsABadInputExit) {
  const auto r = test::run_cli("train --pipeline bogus --dataset " + std::string(kData));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--pipeline 'bogus' is not a data pipeline; expected direct or prefetch"));
}

TEST(PrefetchCli, TheRunRecordSaysWhichPipelineRan) {
  test::TempDir dir;
  const auto out = dir / "run.json";
  const auto r = test::run_cli(fmt::format(
      "train --dataset {} --model {} --batch 12 --steps 8 --warmup 2 --test-limit 16 --pipeline prefetch "
      "--prefetch-depth 3 --out '{}'",
      kData, kModel, out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["config"]["pipeline"], "prefetch");
  EXPECT_EQ(j["config"]["prefetch_depth"], 3);
  EXPECT_EQ(j["timing"]["phases_ms"]["h2d"]["max"], 0.0);
}

}  // namespace
}  // namespace cnnb
