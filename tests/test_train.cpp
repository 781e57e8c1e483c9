// Training end to end through the harness: the loss falls, runs are reproducible.
#include <gtest/gtest.h>

#include <filesystem>

#include "bench/harness/trainer.h"
#include "datasets/dataset.h"

namespace cnnb {
namespace {

TrainConfig quick_config() {
  TrainConfig c;
  c.model = "conv3x3x6,relu,maxpool2,fc4";
  c.dataset = "synthetic:n=512,shape=1x12x12,classes=4,test=128";
  c.batch = 32;
  c.epochs = 6;
  c.seed = 9;
  return c;
}

TEST(Train, LossFallsAndTestAccuracyBeatsChanceOnSyntheticData) {
  const TrainConfig c = quick_config();
  const Dataset data = load_dataset(c.dataset, c.seed);
  const TrainResult r = train(c, data, nullptr);
  ASSERT_EQ(r.epochs.size(), 6u);
  for (size_t e = 1; e < r.epochs.size(); ++e) EXPECT_LT(r.epochs[e].train_loss, r.epochs[e - 1].train_loss);
  EXPECT_LT(r.epochs[5].train_loss, 0.5 * r.epochs[0].train_loss);
  EXPECT_GT(r.epochs[5].test_accuracy, 0.9);  // chance is 0.25
  EXPECT_EQ(r.steps.size(), 6u * 16u);
}

TEST(Train, SameSeedSameRunBitForBit) {
  const TrainConfig c = quick_config();
  const Dataset data = load_dataset(c.dataset, c.seed);
  const TrainResult a = train(c, data, nullptr), b = train(c, data, nullptr);
  for (size_t e = 0; e < a.epochs.size(); ++e) {
    EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss);
    EXPECT_EQ(a.epochs[e].test_loss, b.epochs[e].test_loss);
  }
  TrainConfig other = c;
  other.seed = 10;
  EXPECT_NE(train(other, data, nullptr).epochs[0].train_loss, a.epochs[0].train_loss);
}

TEST(Train, LossFallsOnAFashionMnistSubset) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
  TrainConfig c;
  c.model = "conv3x3x8,relu,maxpool2,fc10";
  c.dataset = "fashion-mnist";
  c.batch = 32;
  c.epochs = 2;
  c.steps_per_epoch = 60;
  c.test_limit = 1000;
  const Dataset data = load_dataset(c.dataset, c.seed);
  const TrainResult r = train(c, data, nullptr);
  EXPECT_LT(r.epochs[1].train_loss, 0.75 * r.epochs[0].train_loss);
  EXPECT_GT(r.epochs[1].test_accuracy, 0.6);  // chance is 0.1
}

}  // namespace
}  // namespace cnnb
