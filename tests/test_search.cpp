// Network search: the space file's checks, grid order, a seeded genetic search that is reproducible, and
// the CLI's JSONL lines with their genomes.
#include <gtest/gtest.h>

#include <fstream>

#include "bench/harness/search.h"
#include "cli_runner.h"
#include "core/error.h"
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
}

}  // namespace
}  // namespace cnnb
