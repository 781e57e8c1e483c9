// Network search: the space file's checks, grid order, a seeded genetic search that is reproducible, and
// the CLI's JSONL lines with their genomes.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "bench/harness/search.h"
#include "cli_runner.h"
#include "core/device.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "reports/jsonl.h"
#include "tests/input_error.h"

namespace cnnb {
namespace {

using test::input_error;

using test::TempDir;

const char* kSpace = R"(
[genes]
conv_blocks = [1]
filters = [2, 4]
kernel = [3]
dense = [0, 8]
lr = [0.002]
)";

TrainConfig base() {
  TrainConfig c;
  c.dataset = "synthetic:n=96,shape=1x8x8,classes=3,test=32";
  c.batch = 16;
  c.epochs = 1;
  c.steps_per_epoch = 3;
  c.warmup_steps = 0;
  return c;
}

TEST(SearchSpace, BadSpacesAreRefusedNamingTheGene) {
  EXPECT_NE(input_error([] { parse_search_space("[genes]\nfilters = []\n", "s.toml"); })
                .find("s.toml: gene filters: the list of choices is empty"),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_search_space("[genes]\nkernel = [4]\n", "s.toml"); })
                .find("gene kernel: invalid choice 4; expected an odd integer"),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_search_space("[genes]\nwidth = [4]\n", "s.toml"); }).find("unknown gene 'width'"),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_search_space("[genes]\nactivation = [\"tanh\"]\n", "s.toml"); }).find("invalid choice \"tanh\""),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_search_space("x = 1\n", "s.toml"); }).find("expected a [genes] table"), std::string::npos);
}

TEST(SearchSpace, GenomeBecomesAModelSpec) {
  const SearchSpace s = parse_search_space("[genes]\nconv_blocks=[2]\nfilters=[8]\nkernel=[5]\npooling=[\"max2\"]\ndense=[32]\n"
                                           "optimizer=[\"sgd\"]\nbatch=[48]\n", "s");
  const TrainConfig c = candidate_config(s, {0, 0, 0, 0, 0, 0, 0}, base(), 10);
  EXPECT_EQ(c.model, "conv5x5x8,relu,maxpool2,conv5x5x16,relu,maxpool2,fc32,relu,fc10");
  EXPECT_EQ(c.optimizer.kind, OptimizerConfig::Kind::sgd);
  EXPECT_EQ(c.batch, 48);
}

// Found by tests/fuzz (inputs kept in tests/fuzz/corpus/search_toml/): 63 doubling blocks shifted an int by
// 32 and more (UB), and a float choice of 1.4e40 was cast to an integer before its type was looked at (UB).
TEST(SearchSpace, HugeChoicesAreNoUndefinedBehaviour) {
  const SearchSpace s = parse_search_space("[genes]\nconv_blocks = [63]\nfilters = [16]\nlr = [1.4e40]\n", "s.toml");
  const TrainConfig c = candidate_config(s, {0, 0, 0}, base(), 10);
  EXPECT_NE(c.model.find("conv3x3x16,relu,maxpool2,conv3x3x32,"), std::string::npos) << c.model;
  EXPECT_NE(c.model.find("conv3x3x2147483647,"), std::string::npos) << c.model;  // saturated, then refused by name
  EXPECT_NE(input_error([&] { parse_model(c.model); }).find("filter count must be in [1, 65536], got 131072"),
            std::string::npos);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1.4e40);
}

// Found by tests/fuzz (tests/fuzz/corpus/results_jsonl/): a number too large for a double is not a
// parse_error in nlohmann::json, so it escaped the reader instead of making the line a warning.
TEST(ResultsJsonl, ANumberOutOfRangeIsABadLineNotAnEscape) {
  const JsonlContents c = parse_jsonl("{\"a\": 1}\n{\"x\": 1e400}\n{\"b\": 2}\n", "r.jsonl");
  ASSERT_EQ(c.records.size(), 2U);
  EXPECT_EQ(c.records[1].line, 3);
  ASSERT_EQ(c.warnings.size(), 1U);
  EXPECT_NE(c.warnings[0].find("r.jsonl:2: not valid JSON (number overflow"), std::string::npos) << c.warnings[0];
}

TEST(Search, GridTriesEveryCombinationInOrder) {
  const SearchSpace s = parse_search_space(kSpace, "s");
  const Dataset data = load_dataset(base().dataset, 1);
  SearchOptions o;
  o.method = "grid";
  const auto all = run_search(s, o, base(), data, nullptr);
  // Genes in name order (conv_blocks, dense, filters, kernel, lr); the first varies fastest.
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].genome, (Genome{0, 0, 0, 0, 0}));
  EXPECT_EQ(all[1].genome, (Genome{0, 1, 0, 0, 0}));
  EXPECT_EQ(all[2].genome, (Genome{0, 0, 1, 0, 0}));
  EXPECT_EQ(all[3].genome, (Genome{0, 1, 1, 0, 0}));
  for (const auto& c : all) EXPECT_EQ(c.status, "ok") << c.error;
  o.budget = 3;
  EXPECT_EQ(run_search(s, o, base(), data, nullptr).size(), 3u);
}

TEST(Search, ADivergingCandidateIsRecordedAsDivergedAndTheSearchGoesOn) {
  const SearchSpace s = parse_search_space(R"(
[genes]
conv_blocks = [1]
filters = [2]
optimizer = ["sgd"]
lr = [0.01, 1e20]
)", "s");
  TrainConfig b = base();
  b.steps_per_epoch = 6;
  const Dataset data = load_dataset(b.dataset, 1);
  SearchOptions o;
  o.method = "grid";
  const auto all = run_search(s, o, b, data, nullptr);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].status, "ok") << all[0].error;
  EXPECT_EQ(all[1].status, "diverged");
  EXPECT_NE(all[1].error.find("training diverged at step"), std::string::npos) << all[1].error;
  EXPECT_TRUE(fitter(all[0], all[1]));
}

TEST(Search, GeneticIsSeededAndReproducible) {
  const SearchSpace s = parse_search_space(kSpace, "s");
  const Dataset data = load_dataset(base().dataset, 1);
  SearchOptions o;
  o.method = "genetic";
  o.population = 3;
  o.generations = 3;
  o.mutation = 0.5;
  o.seed = 7;
  const auto a = run_search(s, o, base(), data, nullptr), b = run_search(s, o, base(), data, nullptr);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 2u);
  ASSERT_LE(a.size(), 4u);  // a genome seen before is not retrained, and the space has 4
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].genome, b[i].genome);
    EXPECT_EQ(a[i].generation, b[i].generation);
    EXPECT_EQ(a[i].accuracy, b[i].accuracy);
  }
}

TEST(Search, CandidatesInParallelGiveTheSequentialResultsInOrder) {
  const SearchSpace s = parse_search_space(kSpace, "s");
  const Dataset data = load_dataset(base().dataset, 1);
  SearchOptions o;
  o.method = "grid";
  const auto seq = run_search(s, o, base(), data, nullptr);
  o.devices = "cpu:3";  // 4 candidates over 3 slots: one slot trains two
  std::vector<int> reported;
  const auto par = run_search(s, o, base(), data, [&](const Candidate& c) { reported.push_back(c.index); });
  EXPECT_EQ(reported, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_EQ(par.size(), seq.size());
  for (size_t i = 0; i < seq.size(); ++i) {
    EXPECT_EQ(par[i].index, int(i));
    EXPECT_EQ(par[i].genome, seq[i].genome);
    EXPECT_EQ(par[i].status, "ok") << par[i].error;
    // cpu-ref is single-threaded whatever share of the cores a slot has: bit-identical training.
    EXPECT_EQ(par[i].accuracy, seq[i].accuracy) << i;
    EXPECT_EQ(par[i].result.epochs.back().test_loss, seq[i].result.epochs.back().test_loss) << i;
    EXPECT_EQ(par[i].result.epochs.back().train_loss, seq[i].result.epochs.back().train_loss) << i;
    EXPECT_EQ(par[i].result.devices, "cpu:1");
  }
}

TEST(Search, GeneticGenerationsDoNotDependOnFinishingOrder) {
  const SearchSpace s = parse_search_space(kSpace, "s");
  const Dataset data = load_dataset(base().dataset, 1);
  SearchOptions o;
  o.method = "genetic";
  o.population = 3;
  o.generations = 2;
  o.mutation = 0.5;
  o.seed = 11;
  const auto seq = run_search(s, o, base(), data, nullptr);
  o.devices = "cpu:3";
  const auto par = run_search(s, o, base(), data, nullptr);
  // Generation 0 comes from the seed alone; every genome trained in both searches scores the same.
  for (size_t i = 0; i < std::min(seq.size(), par.size()); ++i) {
    if (seq[i].generation != 0) break;
    EXPECT_EQ(par[i].genome, seq[i].genome) << i;
  }
  for (const auto& p : par)
    for (const auto& q : seq)
      if (p.genome == q.genome) EXPECT_EQ(p.accuracy, q.accuracy);
}

TEST(Search, SlotsShareTheCoresAndBadDevicesAreRefused) {
  TrainConfig b = base();
  b.backend = "cpu-gemm";
  const auto one = search_slots("", b);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].devices, "cpu:1");
  const auto two = search_slots("cpu:2", b);
  ASSERT_EQ(two.size(), 2u);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(two[1].threads, std::max(1, cores / 2));
  b.threads = 3;
  EXPECT_EQ(search_slots("cpu:2", b)[0].threads, 3);
  EXPECT_NE(input_error([&] { search_slots("cpu:0", b); }).find("the number of CPU replicas must be in [1, 256]"),
            std::string::npos);
  EXPECT_NE(input_error([&] { search_slots("tpu:1", b); }).find("unknown device kind 'tpu'"), std::string::npos);
  if (cuda_device_count() == 0)
    EXPECT_NE(input_error([&] { search_slots("gpu:all", b); }).find("no CUDA device is visible"), std::string::npos);
}

TEST(SearchCli, WritesOneJsonLinePerCandidateWithItsGenome) {
  TempDir dir;
  { std::ofstream(dir / "s.toml") << kSpace; }
  const auto r = test::run_cli(fmt::format("search --method grid --space {} --out {} --dataset {} --epochs 1 --steps 3 "
                                           "--budget 3 --backend cpu-ref", (dir / "s.toml").string(),
                                           (dir / "r.jsonl").string(), base().dataset));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("best:"), std::string::npos) << r.out;
  const JsonlContents j = read_jsonl(dir / "r.jsonl");
  ASSERT_EQ(j.records.size(), 3u);
  for (const auto& rec : j.records) {
    EXPECT_EQ(rec.value["status"], "ok");
    EXPECT_TRUE(rec.value["search"]["genome"].contains("filters"));
    EXPECT_EQ(rec.value["search"]["fitness"]["test_accuracy"], rec.value["final"]["test_accuracy"]);
  }
  EXPECT_EQ(j.records[1].value["search"]["genome"]["dense"], 8);
  EXPECT_EQ(j.records[2].value["search"]["genome"]["filters"], 4);
  EXPECT_EQ(j.records[2].value["config"]["model_spec"], "conv3x3x4,relu,maxpool2,fc3");
  { std::ofstream(dir / "bad.toml") << "[genes]\nfilters = []\n"; }
  const auto bad = test::run_cli(fmt::format("search --space {} --out {}", (dir / "bad.toml").string(), (dir / "x.jsonl").string()));
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("gene filters: the list of choices is empty"), std::string::npos) << bad.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.jsonl"));
  const auto bad_devices = test::run_cli(fmt::format("search --space {} --out {} --devices cpu:x", (dir / "s.toml").string(),
                                                     (dir / "x.jsonl").string()));
  EXPECT_EQ(bad_devices.exit_code, 2) << bad_devices.out;
  EXPECT_NE(bad_devices.out.find("--devices 'cpu:x'"), std::string::npos) << bad_devices.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.jsonl"));
}

TEST(SearchCli, ParallelCandidatesAreWrittenInCandidateOrder) {
  TempDir dir;
  { std::ofstream(dir / "s.toml") << kSpace; }
  const auto r = test::run_cli(fmt::format("search --method grid --space {} --out {} --dataset {} --epochs 1 --steps 3 "
                                           "--backend cpu-ref --devices cpu:2", (dir / "s.toml").string(),
                                           (dir / "r.jsonl").string(), base().dataset));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("2 at a time (cpu:2)"), std::string::npos) << r.out;
  const JsonlContents j = read_jsonl(dir / "r.jsonl");
  ASSERT_EQ(j.records.size(), 4u);
  for (size_t i = 0; i < j.records.size(); ++i) {
    EXPECT_EQ(j.records[i].value["search"]["candidate"], int(i));
    EXPECT_EQ(j.records[i].value["search"]["devices"], "cpu:2");
    EXPECT_EQ(j.records[i].value["config"]["devices"], "cpu:1");
  }
}

}  // namespace
}  // namespace cnnb
