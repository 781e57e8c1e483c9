// Strategy options declared by their strategies: what is declared, how values are checked, and that the
// record, the sweep's configuration hash, the checkpoint fingerprint and both commands' flags follow the
// declarations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bench/harness/checkpoint.h"
#include "bench/harness/option_fields.h"
#include "bench/harness/sweep.h"
#include "cli_runner.h"
#include "input_error.h"
#include "strategies/strategy.h"
#include "strategies/strategy_options.h"

namespace cnnb {
namespace {

using test::input_error;
using ::testing::HasSubstr;

std::string by_flag(const OptionSpec& o) { return std::string(o.flag); }

TEST(StrategyOptions, EachIsDeclaredByItsOwnStrategyOnly) {
  const std::vector<DeclaredOption> all = declared_options();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].spec.key, "bucket_mb");
  EXPECT_EQ(all[0].spec.flag, "--buckets");
  EXPECT_EQ(all[0].spec.type, OptionType::number);
  EXPECT_EQ(all[0].strategies, (std::vector<std::string_view>{"allreduce"}));
  EXPECT_EQ(all[1].spec.key, "sync_every");
  EXPECT_EQ(all[1].spec.flag, "--sync-every");
  EXPECT_EQ(all[1].spec.type, OptionType::integer);
  EXPECT_EQ(all[1].strategies, (std::vector<std::string_view>{"param-avg"}));
  for (const char* s : {"single", "tower", "independent"}) EXPECT_TRUE(options_of(s).empty()) << s;
  EXPECT_TRUE(takes_option("param-avg", "sync_every"));
  EXPECT_FALSE(takes_option("allreduce", "sync_every"));
  EXPECT_TRUE(options_of("no-such-strategy").empty());
}

TEST(StrategyOptions, ValuesAreCheckedForTypeRangeAndStrategy) {
  StrategyOptions o;
  o.set("sync_every", 0);
  EXPECT_EQ(input_error([&] { check_strategy_options("param-avg", o, by_flag); }),
            "--sync-every must be a positive integer, got 0");
  o.set("sync_every", 2.5);
  EXPECT_EQ(input_error([&] { check_strategy_options("param-avg", o, option_key_name); }),
            "sync_every must be a positive integer, got 2.5");
  o.set("sync_every", 4);
  EXPECT_NO_THROW(check_strategy_options("param-avg", o, by_flag));
  EXPECT_EQ(input_error([&] { check_strategy_options("allreduce", o, by_flag); }),
            "--sync-every 4 applies to param-avg only, not to strategy allreduce");
  // Its default value changes nothing, so a strategy without the option accepts it (scripts pass it always).
  o.set("sync_every", 1);
  EXPECT_NO_THROW(check_strategy_options("allreduce", o, by_flag));
  StrategyOptions b;
  b.set("bucket_mb", -1);
  EXPECT_EQ(input_error([&] { check_strategy_options("allreduce", b, by_flag); }),
            "--buckets must be a size in MiB >= 0 (0 = one call), got -1");
  b.set("bucket_mb", 0.25);
  EXPECT_EQ(input_error([&] { make_strategy("tower", b); }), "bucket_mb 0.25 applies to allreduce only, not to strategy tower");
}

TEST(StrategyOptions, EveryRecordHasEveryOptionWithItsDeclaredType) {
  StrategyOptions o;
  o.set("sync_every", 3).set("bucket_mb", 0.5);
  nlohmann::json j = nlohmann::json::object();
  add_option_fields(j, "param-avg", o);
  EXPECT_EQ(j.dump(), R"({"bucket_mb":0.0,"sync_every":3})");
  j = nlohmann::json::object();
  add_option_fields(j, "allreduce", o);
  EXPECT_EQ(j.dump(), R"({"bucket_mb":0.5,"sync_every":1})");
  j = nlohmann::json::object();
  add_option_fields(j, "allreduce", o, OptionFields::changing_results);
  EXPECT_EQ(j.dump(), R"({"sync_every":1})") << "bucketed allreduce gives bit-identical parameters";
}

TEST(StrategyOptions, ACheckpointFingerprintHoldsOnlyOptionsThatChangeResults) {
  TrainConfig c;
  c.strategy = "param-avg";
  c.strategy_options.set("sync_every", 5);
  const Dataset data = load_dataset("synthetic:n=64,shape=1x8x8,classes=10,test=16", 1);
  const ModelPlan plan = plan_model(parse_model("fc10"), data.shape, data.classes);
  const nlohmann::json fp = checkpoint_fingerprint(c, plan, data, 4, 2);
  EXPECT_EQ(fp.at("sync_every").dump(), "5");
  EXPECT_FALSE(fp.contains("bucket_mb"));
  // Another strategy's fingerprint keeps the default, an integer, as checkpoints written before.
  c.strategy = "allreduce";
  c.strategy_options = {};
  EXPECT_EQ(checkpoint_fingerprint(c, plan, data, 4, 2).at("sync_every").dump(), "1");
}

// A sweep's option reaches only the runs of the strategies that declare it, so the other runs' hashes (and
// the results a resume finds) do not depend on it.
TEST(StrategyOptions, ASweepAppliesEachOptionToItsStrategysRunsOnly) {
  SweepSpec s;
  s.models = {"fc10"};
  s.datasets = {"synthetic:n=64,shape=1x8x8,classes=10,test=16"};
  s.backends = {"cpu-gemm"};
  s.strategies = {"allreduce", "param-avg"};
  s.devices = {"2"};
  s.batches = {8};
  SweepHost host;
  host.cores = 2;
  const SweepPlan plain = expand_sweep(s, host);
  s.strategy_options.set("sync_every", 4);
  const SweepPlan with = expand_sweep(s, host);
  auto run = [](const SweepPlan& p, std::string_view strategy) {
    const auto it = std::find_if(p.runs.begin(), p.runs.end(), [&](const SweepRun& r) { return r.cfg.strategy == strategy; });
    if (it == p.runs.end()) throw std::runtime_error(fmt::format("no {} run in the plan", strategy));
    return *it;
  };
  EXPECT_EQ(run(with, "param-avg").cfg.strategy_options.given("sync_every"), 4.0);
  EXPECT_EQ(run(with, "param-avg").config_json().at("sync_every").dump(), "4");
  EXPECT_NE(run(with, "param-avg").hash, run(plain, "param-avg").hash);
  EXPECT_EQ(run(with, "allreduce").cfg.strategy_options.given("sync_every"), std::nullopt);
  EXPECT_EQ(run(with, "allreduce").hash, run(plain, "allreduce").hash);
}

// The hashes that the binary of 718c620, before the options were declared by their strategies, gave the
// runs of `cnnbench sweep --backends cpu-gemm --strategies single,allreduce,param-avg,tower --devices 1,2
// --sync-every 2 --buckets 0.5 --datasets synthetic:n=64,shape=1x8x8,classes=10,test=16 --models fc10
// --batches 8 --steps 1 --warmup 0 --repetitions 1 --baseline-steps 1`: a resumed sweep finds its results.
TEST(StrategyOptions, SweepHashesAreThoseOfTheBinaryBeforeTheDeclarations) {
  SweepSpec s;
  s.models = {"fc10"};
  s.datasets = {"synthetic:n=64,shape=1x8x8,classes=10,test=16"};
  s.backends = {"cpu-gemm"};
  s.strategies = {"single", "allreduce", "param-avg", "tower"};
  s.devices = {"1", "2"};
  s.batches = {8};
  s.steps = 1;
  s.warmup = 0;
  s.repetitions = 1;
  s.baseline_steps = 1;
  s.strategy_options.set("sync_every", 2).set("bucket_mb", 0.5);
  SweepHost host;
  host.cores = 2;
  const SweepPlan plan = expand_sweep(s, host);
  const std::vector<std::array<std::string, 4>> before = {
      {"cpu-ref", "single", "cpu:1", "0bff429c3ea5f160"},     {"cpu-gemm", "single", "cpu:1", "9ab1ac2070a21707"},
      {"cpu-gemm", "allreduce", "cpu:1", "e075510ec994cf6f"}, {"cpu-gemm", "param-avg", "cpu:1", "5d80b62767be2e0e"},
      {"cpu-gemm", "tower", "cpu:1", "71e7751c64aaa9da"},     {"cpu-gemm", "allreduce", "cpu:2", "95ea643f552cd059"},
      {"cpu-gemm", "param-avg", "cpu:2", "f34b47311f0d8020"}, {"cpu-gemm", "tower", "cpu:2", "cdaffefc0366bec8"}};
  ASSERT_EQ(plan.runs.size(), before.size());
  for (const auto& [backend, strategy, devices, hash] : before) {
    const auto it = std::find_if(plan.runs.begin(), plan.runs.end(), [&](const SweepRun& r) {
      return r.cfg.backend == backend && r.cfg.strategy == strategy && r.cfg.devices == devices;
    });
    ASSERT_NE(it, plan.runs.end()) << backend << " " << strategy << " " << devices;
    EXPECT_EQ(it->hash, hash) << backend << " " << strategy << " " << devices << ": " << it->config_json().dump();
  }
}

TEST(StrategyOptions, ASweepFileNamesTheLineOfAnOptionOutOfRange) {
  try {
    parse_sweep_toml_string("epochs = 1\nbucket_mb = -1\n", "s.toml");
    ADD_FAILURE() << "bucket_mb = -1 was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "s.toml:2:13: bucket_mb must be a size in MiB >= 0 (0 = one call), got -1");
  }
  try {
    parse_sweep_toml_string("sync_every = 0\n", "s.toml");
    ADD_FAILURE() << "sync_every = 0 was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "s.toml:1:14: sync_every: 0 is out of range; expected a positive integer");
  }
}

TEST(StrategyOptions, BothCommandsTakeTheDeclaredFlags) {
  auto r = test::run_cli("sweep --dry-run --strategies param-avg --sync-every 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--sync-every must be a positive integer, got 0"));
  r = test::run_cli("train --strategy param-avg --devices cpu:2 --sync-every 2.5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--sync-every must be a positive integer, got '2.5'"));
  r = test::run_cli("train --help");
  EXPECT_THAT(r.out, HasSubstr("--buckets"));
  EXPECT_THAT(r.out, HasSubstr("param-avg: average the parameters every k steps"));
  r = test::run_cli("sweep --help");
  EXPECT_THAT(r.out, HasSubstr("allreduce: gradient buckets of about this many MiB (0 = one call) (default 0)"));
}

}  // namespace
}  // namespace cnnb
