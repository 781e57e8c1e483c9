// Checkpoints: N steps straight and k steps + resume + N-k steps give bit-identical parameters; damaged
// checkpoints and checkpoints of another configuration are refused, and the previous one survives.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "bench/harness/checkpoint.h"
#include "bench/harness/trainer.h"
#include "cli_runner.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "tests/input_error.h"

namespace cnnb {
namespace {

using test::input_error;

using test::TempDir;
namespace fs = std::filesystem;

TrainConfig base_config() {
  TrainConfig c;
  c.model = "conv3x3x4,relu,maxpool2,fc4";
  c.dataset = "synthetic:n=160,shape=1x10x10,classes=4,test=32";
  c.batch = 16;
  c.epochs = 2;
  c.steps_per_epoch = 5;  // N = 10 global steps
  c.seed = 11;
  c.warmup_steps = 0;
  return c;
}

struct ResumeCase {
  const char* backend;
  const char* optimizer;
  const char* strategy;
  const char* devices;
};

class ResumeBitExact : public ::testing::TestWithParam<ResumeCase> {};

TEST_P(ResumeBitExact, StraightEqualsCheckpointResumeContinue) {
  const ResumeCase p = GetParam();
  TrainConfig c = base_config();
  c.backend = p.backend;
  c.threads = 2;
  c.optimizer.kind = parse_optimizer_kind(p.optimizer);
  if (c.optimizer.kind == OptimizerConfig::Kind::sgd) c.optimizer.lr = 0.05, c.optimizer.momentum = 0.9;
  c.strategy = p.strategy;
  c.devices = p.devices;
  const Dataset data = load_dataset(c.dataset, c.seed);
  const ModelPlan plan = plan_model(parse_model(c.model), data.shape, data.classes);
  TempDir dir;

  TrainConfig straight = c;
  straight.save_weights = (dir / "straight.safetensors").string();
  const TrainResult a = train(straight, data, nullptr);

  // Checkpoints at steps 3, 6, 9 (the newest two kept); then continue from step 6 = epoch 2, step 1.
  TrainConfig ck = c;
  ck.checkpoint_every = 3;
  ck.checkpoint_dir = (dir / "ck").string();
  const TrainResult with_ck = train(ck, data, nullptr);
  ASSERT_EQ(with_ck.checkpoints.size(), 3u);
  const auto kept = list_checkpoints(dir / "ck");
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].filename(), "ckpt-000000006.safetensors");
  EXPECT_EQ(kept[1].filename(), "ckpt-000000009.safetensors");

  TrainConfig resumed = c;
  resumed.resume = kept[0].string();
  resumed.save_weights = (dir / "resumed.safetensors").string();
  const TrainResult b = train(resumed, data, nullptr);
  EXPECT_EQ(b.resumed_at_step, 6);
  EXPECT_EQ(b.steps.size(), 4u);  // only steps 7..10 ran

  const std::vector<float> wa = load_weights(dir / "straight.safetensors", plan);
  const std::vector<float> wb = load_weights(dir / "resumed.safetensors", plan);
  ASSERT_EQ(wa.size(), wb.size());
  EXPECT_EQ(std::memcmp(wa.data(), wb.data(), wa.size() * 4), 0) << "resume is not bit-exact";
  // Resuming costs no accuracy and keeps the epoch statistics of the interrupted run.
  ASSERT_EQ(b.epochs.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(b.epochs[e].train_loss, a.epochs[e].train_loss);
    EXPECT_EQ(b.epochs[e].test_loss, a.epochs[e].test_loss);
    EXPECT_EQ(b.epochs[e].test_accuracy, a.epochs[e].test_accuracy);
  }
  // Resuming the directory takes the newest checkpoint (step 9).
  TrainConfig from_dir = c;
  from_dir.resume = (dir / "ck").string();
  EXPECT_EQ(train(from_dir, data, nullptr).resumed_at_step, 9);
}

INSTANTIATE_TEST_SUITE_P(Backends, ResumeBitExact,
                         ::testing::Values(ResumeCase{"cpu-ref", "adam", "single", ""},
                                           ResumeCase{"cpu-gemm", "adam", "single", ""},
                                           ResumeCase{"cpu-gemm", "sgd", "single", ""},
                                           ResumeCase{"cpu-ref", "sgd", "independent", "cpu:2"},
                                           ResumeCase{"cpu-ref", "adam", "allreduce", "cpu:2"}),
                         [](const auto& info) {
                           return fmt::format("{}_{}_{}", info.param.backend[4] == 'r' ? "ref" : "gemm",
                                              info.param.optimizer, info.param.strategy[0] == 's' ? "single"
                                                                    : info.param.strategy[0] == 'i' ? "independent"
                                                                                                    : "allreduce");
                         });

// A run's checkpoint directory with checkpoints at steps 3 and 6.
struct Checkpointed {
  TempDir dir;
  TrainConfig cfg = base_config();
  Dataset data = load_dataset(cfg.dataset, cfg.seed);
  std::vector<fs::path> files;
  Checkpointed() {
    cfg.steps_per_epoch = 3;
    cfg.checkpoint_every = 3;
    cfg.checkpoint_dir = (dir / "ck").string();
    train(cfg, data, nullptr);
    files = list_checkpoints(dir / "ck");
  }
  TrainConfig resume_cfg() const {
    TrainConfig r = cfg;
    r.checkpoint_every = 0;
    r.checkpoint_dir.clear();
    r.resume = (dir / "ck").string();
    return r;
  }
};

TEST(Checkpoint, CorruptNewestIsRefusedAndThePreviousSurvives) {
  Checkpointed ck;
  ASSERT_EQ(ck.files.size(), 2u);
  const fs::path newest = ck.files[1];
  {
    // Flip one byte in the tensor data: structurally valid, caught by the checksum.
    std::fstream f(newest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-10, std::ios::end);
    char b = 0;
    f.read(&b, 1);
    b ^= 0x40;
    f.seekp(-10, std::ios::end);
    f.write(&b, 1);
  }
  const std::string e = input_error([&] { train(ck.resume_cfg(), ck.data, nullptr); });
  EXPECT_NE(e.find("checkpoint is damaged (corrupt)"), std::string::npos) << e;
  EXPECT_NE(e.find(newest.string()), std::string::npos) << e;
  EXPECT_NE(e.find("the previous checkpoint " + ck.files[0].string() + " is intact"), std::string::npos) << e;
  EXPECT_TRUE(fs::exists(ck.files[0]));
  // And it does continue from the previous one.
  TrainConfig prev = ck.resume_cfg();
  prev.resume = ck.files[0].string();
  EXPECT_EQ(train(prev, ck.data, nullptr).resumed_at_step, 3);
}

TEST(Checkpoint, TruncatedIsRefused) {
  Checkpointed ck;
  fs::resize_file(ck.files[1], fs::file_size(ck.files[1]) - 100);
  const std::string e = input_error([&] { train(ck.resume_cfg(), ck.data, nullptr); });
  EXPECT_NE(e.find("checkpoint is damaged (truncated or corrupt)"), std::string::npos) << e;
  EXPECT_NE(e.find("is intact"), std::string::npos) << e;
}

TEST(Checkpoint, AnotherModelOrOptimizerIsRefusedNamingWhatDiffers) {
  Checkpointed ck;
  TrainConfig other = ck.resume_cfg();
  other.model = "conv3x3x8,relu,maxpool2,fc4";
  const std::string e = input_error([&] { train(other, ck.data, nullptr); });
  EXPECT_NE(e.find("written by a different configuration"), std::string::npos) << e;
  EXPECT_NE(e.find("model_spec: checkpoint has \"conv3x3x4"), std::string::npos) << e;
  TrainConfig sgd = ck.resume_cfg();
  sgd.optimizer.kind = OptimizerConfig::Kind::sgd;
  const std::string e2 = input_error([&] { train(sgd, ck.data, nullptr); });
  EXPECT_NE(e2.find("optimizer: checkpoint has \"adam\", this run has \"sgd\""), std::string::npos) << e2;
  TrainConfig batch = ck.resume_cfg();
  batch.batch = 8;
  EXPECT_NE(input_error([&] { train(batch, ck.data, nullptr); }).find("batch: checkpoint has 16, this run has 8"),
            std::string::npos);
}

TEST(Checkpoint, OptionsAreChecked) {
  TrainConfig c = base_config();
  c.checkpoint_every = 2;
  EXPECT_NE(input_error([&] { validate(c); }).find("needs --checkpoint-dir"), std::string::npos);
  c.checkpoint_dir = "/tmp/x";
  c.strategy = "tower";
  EXPECT_NE(input_error([&] { validate(c); }).find("not supported with --strategy tower"), std::string::npos);
  c.strategy = "param-avg";
  c.strategy_options.set("sync_every", 3);
  EXPECT_NE(input_error([&] { validate(c); }).find("multiple of --sync-every 3"), std::string::npos);
  TrainConfig r = base_config();
  r.resume = "/nonexistent/dir";
  const Dataset data = load_dataset(r.dataset, r.seed);
  EXPECT_NE(input_error([&] { train(r, data, nullptr); }).find("--resume /nonexistent/dir: no such file"), std::string::npos);
}

TEST(CheckpointCli, TrainWithCheckpointsThenResume) {
  TempDir dir;
  const std::string common = fmt::format(
      "train --model conv3x3x4,relu,maxpool2,fc4 --dataset synthetic:n=160,shape=1x10x10,classes=4,test=32 "
      "--batch 16 --epochs 2 --steps 5 --backend cpu-ref");
  const auto a = test::run_cli(fmt::format("{} --checkpoint-every 4 --checkpoint-dir {} --save {}", common,
                                           (dir / "ck").string(), (dir / "a.safetensors").string()));
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_NE(a.out.find("wrote 2 checkpoints"), std::string::npos) << a.out;
  const auto b = test::run_cli(fmt::format("{} --resume {} --save {}", common, (dir / "ck" / "ckpt-000000004.safetensors").string(),
                                           (dir / "b.safetensors").string()));
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_NE(b.out.find("resumed from"), std::string::npos) << b.out;
  const StFile fa = read_safetensors(dir / "a.safetensors"), fb = read_safetensors(dir / "b.safetensors");
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (size_t i = 0; i < fa.tensors.size(); ++i) EXPECT_EQ(fa.tensors[i].bytes, fb.tensors[i].bytes) << fa.tensors[i].name;
  std::filesystem::resize_file(dir / "ck" / "ckpt-000000008.safetensors", 30);
  const auto c = test::run_cli(fmt::format("{} --resume {}", common, (dir / "ck").string()));
  EXPECT_EQ(c.exit_code, 2) << c.out;
  EXPECT_NE(c.out.find("checkpoint is damaged"), std::string::npos) << c.out;
}

}  // namespace
}  // namespace cnnb
