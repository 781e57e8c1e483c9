// cnnbench sweep: grid expansion, configuration hashes, TOML errors, the JSON Lines file and resume, and the
// real CLI end to end (interrupted, resumed, reported).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/harness/sweep.h"
#include "cli_runner.h"
#include "input_error.h"
#include "xml_check.h"
#include "core/error.h"
#include "reports/gnuplot.h"
#include "reports/jsonl.h"
#include "reports/results.h"

namespace cnnb {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::TempDir;

constexpr const char* kTinyModel = "conv3x3x4,relu,maxpool2,fc10";
constexpr const char* kTinyData = "synthetic:n=128,shape=1x10x10,classes=10,test=32";

SweepSpec tiny_spec() {
  SweepSpec s;
  s.models = {kTinyModel};
  s.datasets = {kTinyData};
  s.backends = {"cpu-gemm", "cuda-naive"};
  s.strategies = {"single", "allreduce"};
  s.devices = {"1", "2"};
  s.batches = {8};
  s.steps = 3;
  s.warmup = 1;
  return s;
}

SweepHost cpu_host() {
  SweepHost h;
  h.gpus = 0;
  h.cores = 2;
  h.unavailable_backends = {{"cuda-naive", "is not in this build (built without CUDA)"}};
  return h;
}

std::set<std::string> hashes(const SweepPlan& p) {
  std::set<std::string> s;
  for (const auto& r : p.runs) s.insert(r.hash);
  return s;
}

const SweepRun* find(const SweepPlan& p, const std::string& backend, const std::string& strategy, int n) {
  for (const auto& r : p.runs)
    if (r.cfg.backend == backend && r.cfg.strategy == strategy && r.device_count == n) return &r;
  return nullptr;
}

std::string slurp(const fs::path& f) {
  std::ifstream in(f);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

using test::lines_of;

// ---- grid

TEST(SweepGrid, ExpandsTheProductAddsTheBaselineAndSkipsWhatCannotRun) {
  const SweepPlan p = expand_sweep(tiny_spec(), cpu_host());
  // baseline + per backend {single x1, allreduce x1, allreduce x2}; single x2 left out for both backends.
  ASSERT_EQ(p.runs.size(), 7u);
  EXPECT_EQ(p.dropped, 2);
  EXPECT_EQ(hashes(p).size(), 7u);

  const SweepRun& base = p.runs.front();
  EXPECT_TRUE(base.baseline);
  EXPECT_EQ(base.cfg.backend, "cpu-ref");
  EXPECT_EQ(base.cfg.strategy, "single");
  EXPECT_EQ(base.cfg.devices, "cpu:1");
  EXPECT_EQ(base.cfg.batch, 8);
  EXPECT_TRUE(base.skip_reason.empty());

  const SweepRun* ar2 = find(p, "cpu-gemm", "allreduce", 2);
  ASSERT_NE(ar2, nullptr);
  EXPECT_EQ(ar2->cfg.devices, "cpu:2");
  EXPECT_EQ(ar2->cfg.batch, 16);  // weak scaling: 8 per device
  EXPECT_EQ(ar2->batch_axis, 8);
  EXPECT_TRUE(ar2->skip_reason.empty());

  const SweepRun* gpu2 = find(p, "cuda-naive", "allreduce", 2);
  ASSERT_NE(gpu2, nullptr);
  EXPECT_EQ(gpu2->cfg.devices, "gpu:0,1");
  EXPECT_EQ(gpu2->skip_reason, "backend cuda-naive is not in this build (built without CUDA)");
  // Runs come after the baseline in device-count order.
  for (size_t i = 2; i < p.runs.size(); ++i) EXPECT_LE(p.runs[i - 1].device_count, p.runs[i].device_count);
}

TEST(SweepGrid, HashesDoNotDependOnTheOrderOfTheLists) {
  SweepSpec a = tiny_spec();
  SweepSpec b = tiny_spec();
  std::reverse(b.backends.begin(), b.backends.end());
  std::reverse(b.strategies.begin(), b.strategies.end());
  std::reverse(b.devices.begin(), b.devices.end());
  b.backends.push_back("cpu-gemm");  // a duplicate changes nothing either
  EXPECT_EQ(hashes(expand_sweep(a, cpu_host())), hashes(expand_sweep(b, cpu_host())));
}

TEST(SweepGrid, HashIsFnv1aOfTheCanonicalJsonWithSortedKeys) {
  // FNV-1a 64 of the text {"a":1}, computed by hand (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
  EXPECT_EQ(config_hash({{"a", 1}}), "9c3e82dd6fcae8b1");
  nlohmann::json x = nlohmann::json::object();
  x["b"] = "x";
  x["a"] = 1;
  EXPECT_EQ(config_hash(x), "cfcc937b86ef6c1d");  // same as {"a":1,"b":"x"}: keys are sorted
}

TEST(SweepGrid, HashFollowsWhatIsMeasuredNotHowOften) {
  SweepSpec s = tiny_spec();
  const auto base = hashes(expand_sweep(s, cpu_host()));
  s.repetitions = 5;  // the same configuration, measured more often
  EXPECT_EQ(hashes(expand_sweep(s, cpu_host())), base);
  s.steps = 4;
  EXPECT_TRUE(std::ranges::none_of(hashes(expand_sweep(s, cpu_host())), [&](const std::string& h) { return base.count(h); }));
  // The model's preset name and its spec string are the same model.
  SweepSpec p1 = tiny_spec(), p2 = tiny_spec();
  p1.models = {"simple"};
  p2.models = {"conv3x3x32,relu,maxpool2,conv3x3x64,relu,maxpool2,fc128,relu,fc10"};
  EXPECT_EQ(hashes(expand_sweep(p1, cpu_host())), hashes(expand_sweep(p2, cpu_host())));
}

TEST(SweepGrid, GpuCountsAndStrongScalingGiveReasonsPrefetchRuns) {
  SweepSpec s = tiny_spec();
  s.backends = {"cuda-naive"};
  s.strategies = {"allreduce"};
  s.devices = {"1", "all", "4"};
  s.batches = {6};
  s.scaling = {"strong"};
  s.pipelines = {"direct", "prefetch"};
  SweepHost h;
  h.gpus = 2;  // a (pretend) two-GPU machine with every backend built
  const SweepPlan p = expand_sweep(s, h);
  const SweepRun* four = nullptr;
  const SweepRun* two = nullptr;
  int prefetch = 0;
  for (const auto& r : p.runs) {
    if (r.pipeline == "prefetch") {
      ++prefetch;
      EXPECT_EQ(r.cfg.pipeline, Pipeline::prefetch);  // the pipeline reaches train()
      if (r.device_count <= 2) EXPECT_EQ(r.skip_reason, "");
      continue;
    }
    if (r.cfg.backend == "cuda-naive" && r.device_count == 4) four = &r;
    if (r.cfg.backend == "cuda-naive" && r.device_count == 2) two = &r;
  }
  EXPECT_GT(prefetch, 0);
  ASSERT_NE(four, nullptr);
  EXPECT_EQ(four->skip_reason, "needs 4 GPUs, this machine has 2");
  ASSERT_NE(two, nullptr);  // "all" = the two GPUs
  EXPECT_EQ(two->cfg.devices, "gpu:0,1");
  EXPECT_EQ(two->cfg.batch, 6);  // strong scaling: the global batch
  EXPECT_TRUE(two->skip_reason.empty());
  // The batch of 6 does not split over 4 replicas, but "needs 4 GPUs" is the first reason.
  s.devices = {"4"};
  h.gpus = 4;
  const SweepPlan q = expand_sweep(s, h);
  const SweepRun* r4 = find(q, "cuda-naive", "allreduce", 4);
  ASSERT_NE(r4, nullptr);
  EXPECT_EQ(r4->skip_reason, "batch 6 does not split evenly over 4 replicas (strong scaling)");
}

TEST(SweepGrid, KernelSetsAreNeverAppliedToTheBaselineAndTyposAreRefused) {
  SweepSpec s = tiny_spec();
  s.backends = {"cpu-gemm"};
  s.kernels = {"", "conv_fwd=cpu/ref"};
  const SweepPlan p = expand_sweep(s, cpu_host());
  int with_set = 0;
  for (const auto& r : p.runs) {
    if (r.baseline) EXPECT_TRUE(r.cfg.kernels.empty());
    if (!r.kernel_set.empty()) {
      ++with_set;
      EXPECT_EQ(r.cfg.kernels.at("conv_fwd"), "cpu/ref");
    }
  }
  EXPECT_EQ(with_set, 3);  // single x1, allreduce x1, allreduce x2
  s.kernels = {"conv_fwdd=im2col_gemm"};
  EXPECT_THROW(expand_sweep(s, cpu_host()), InputError);
  s.kernels = {"conv_fwd"};
  EXPECT_THROW(expand_sweep(s, cpu_host()), InputError);
}

TEST(SweepGrid, BadListsAreInputErrors) {
  auto bad = [](auto mutate) {
    SweepSpec s = tiny_spec();
    mutate(s);
    EXPECT_THROW(expand_sweep(s, cpu_host()), InputError);
  };
  bad([](SweepSpec& s) { s.backends.clear(); });
  bad([](SweepSpec& s) { s.backends = {"cpu-fast"}; });
  bad([](SweepSpec& s) { s.strategies = {"ring"}; });
  bad([](SweepSpec& s) { s.devices = {"0"}; });
  bad([](SweepSpec& s) { s.devices = {"two"}; });
  bad([](SweepSpec& s) { s.batches = {0}; });
  bad([](SweepSpec& s) { s.pipelines = {"async"}; });
  bad([](SweepSpec& s) { s.scaling = {"linear"}; });
  bad([](SweepSpec& s) { s.models = {"conv3x3x4,relux"}; });
  bad([](SweepSpec& s) { s.datasets = {"imagenet"}; });
  bad([](SweepSpec& s) { s.repetitions = 0; });
}

TEST(SweepGrid, AGridTooLargeToExpandIsRefusedNamingTheLimit) {
  SweepSpec s = tiny_spec();
  s.batches.clear();
  for (int b = 1; b <= 500; ++b) s.batches.push_back(b);
  s.devices.clear();
  for (int d = 1; d <= 250; ++d) s.devices.push_back(std::to_string(d));
  // 500 batches x 250 device counts x the tiny spec's other axes: at least 125,000 combinations.
  const std::string msg = test::input_error([&] { expand_sweep(s, cpu_host()); });
  EXPECT_NE(msg.find("combinations"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the limit is 100000: split it into several sweeps"), std::string::npos) << msg;
}

TEST(SweepLists, CommasSplitItemsButNotSpecs) {
  EXPECT_EQ(split_list("cpu-ref, cpu-gemm,,cudnn"), (std::vector<std::string>{"cpu-ref", "cpu-gemm", "cudnn"}));
  EXPECT_EQ(split_models("simple,tfcifar"), (std::vector<std::string>{"simple", "tfcifar"}));
  EXPECT_EQ(split_models("conv3x3x8,relu,fc10"), (std::vector<std::string>{"conv3x3x8,relu,fc10"}));
  EXPECT_EQ(split_models("simple,conv3x3x8,relu,fc10"), (std::vector<std::string>{"simple", "conv3x3x8,relu,fc10"}));
  EXPECT_EQ(split_datasets("synthetic:n=64,shape=1x8x8,classes=10,fashion-mnist"),
            (std::vector<std::string>{"synthetic:n=64,shape=1x8x8,classes=10", "fashion-mnist"}));
}

// ---- TOML

std::string toml_error(const std::string& text) {
  try {
    parse_sweep_toml_string(text, "s.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SweepToml, ReadsEveryKey) {
  const SweepSpec s = parse_sweep_toml_string(R"(
name = "t"
out = "r.jsonl"
models = ["simple", "tfcifar"]
datasets = "fashion-mnist"
backends = ["cpu-gemm"]
strategies = ["single", "allreduce"]
devices = [1, 2, "all"]
batches = [32, 64]
pipelines = ["direct"]
scaling = ["weak", "strong"]
kernels = ["", "conv_fwd=im2col_gemm"]
epochs = 2
steps = 10
warmup = 3
repetitions = 4
test_limit = 100
seed = 7
threads = 1
optimizer = "sgd"
lr = 0.05
momentum = 0.9
weight_decay = 0
sync_every = 2
bucket_mb = 1.5
baseline_steps = 5
baseline_epochs = 1
)",
                                              "s.toml");
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(s.out, "r.jsonl");
  EXPECT_EQ(s.models, (std::vector<std::string>{"simple", "tfcifar"}));
  EXPECT_EQ(s.datasets, (std::vector<std::string>{"fashion-mnist"}));
  EXPECT_EQ(s.devices, (std::vector<std::string>{"1", "2", "all"}));
  EXPECT_EQ(s.batches, (std::vector<int>{32, 64}));
  EXPECT_EQ(s.kernels.size(), 2u);
  EXPECT_EQ(s.repetitions, 4);
  EXPECT_EQ(s.optimizer.kind, OptimizerConfig::Kind::sgd);
  EXPECT_DOUBLE_EQ(s.optimizer.lr, 0.05);
  EXPECT_DOUBLE_EQ(s.optimizer.momentum, 0.9);
  EXPECT_EQ(s.strategy_options.given("sync_every"), 2.0);
  EXPECT_EQ(s.strategy_options.given("bucket_mb"), 1.5);
  EXPECT_EQ(s.baseline_steps, 5);
}

TEST(SweepToml, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(toml_error("epochs = 1\nmodles = [\"simple\"]\n"),
            "s.toml:2:1: unknown key 'modles' (did you mean 'models'?); expected one of: name, out, models, datasets, "
            "backends, strategies, devices, batches, pipelines, scaling, kernels, epochs, steps, warmup, repetitions, "
            "test_limit, seed, threads, optimizer, lr, momentum, weight_decay, bucket_mb, sync_every, baseline_steps, "
            "baseline_epochs");
  EXPECT_EQ(toml_error("\nbatches = \"64\"\n"), "s.toml:2:11: batches: expected an array of a positive batch size, got a string");
  EXPECT_EQ(toml_error("backends = []\n"), "s.toml:1:12: backends: the list is empty; give at least one backend");
  EXPECT_EQ(toml_error("batches = [64, -1]\n"),
            "s.toml:1:16: batches: -1 is out of range; expected a positive batch size");
  EXPECT_EQ(toml_error("repetitions = 0\n"), "s.toml:1:15: repetitions: 0 is out of range; expected an integer in [1, 100]");
  EXPECT_EQ(toml_error("lr = \"fast\"\n"), "s.toml:1:6: lr: expected a positive learning rate, got a string");
  EXPECT_NE(toml_error("\n\nstrategies = [\"ring\"]\n").find("s.toml:3:14: strategies: unknown strategy 'ring'"),
            std::string::npos)
      << toml_error("\n\nstrategies = [\"ring\"]\n");
  EXPECT_NE(toml_error("lr = -1\n").find("s.toml:1:6: lr must be a positive number"), std::string::npos);
  EXPECT_NE(toml_error("backends = [\"cpu-fast\"]\n").find("s.toml:1:12: backends: unknown backend 'cpu-fast'"),
            std::string::npos);
  EXPECT_EQ(toml_error("steps = 10\nepochs = \n").rfind("s.toml:2:", 0), 0u) << toml_error("steps = 10\nepochs = \n");
  EXPECT_EQ(toml_error("devices = [1, \"most\"]\n"),
            "s.toml:1:15: devices: expected a device count in [1, 256] or \"all\", got a string");
}

// ---- results file and resume

nlohmann::json line(const std::string& hash, const std::string& status, const std::string& reason = "") {
  nlohmann::json j = {{"schema", "cnnbench.run/1"},
                      {"status", status},
                      {"sweep", {{"config_hash", hash}}},
                      {"config", {{"backend", "cpu-gemm"}}}};
  if (!reason.empty()) j["reason"] = reason;
  return j;
}

SweepRun run_with(const std::string& hash, const std::string& skip = "") {
  SweepRun r;
  r.hash = hash;
  r.skip_reason = skip;
  return r;
}

TEST(SweepResume, FinishedRunsAreSkippedFailedOnesOnlyWhenNotRetried) {
  TempDir dir;
  const fs::path f = dir / "r.jsonl";
  {
    std::ofstream out(f);
    out << line("aaaa", "ok").dump() << "\n";
    out << line("bbbb", "failed", "boom").dump() << "\n";
    out << "{\"schema\": \"cnnbench.run/1\", oops\n";  // malformed middle line
    out << line("cccc", "skipped", "no CUDA GPU on this machine").dump() << "\n";
    out << line("aaaa", "failed", "later failure").dump() << "\n";  // an ok line is never replaced
    out << "{\"schema\": \"cnnbench.run/1\", \"status\": \"o";        // cut off by a crash
  }
  const ResultsIndex idx = read_results_index(f);
  EXPECT_EQ(idx.lines, 4);
  ASSERT_EQ(idx.warnings.size(), 2u);
  EXPECT_EQ(idx.warnings[0].rfind(f.string() + ":3: not valid JSON", 0), 0u) << idx.warnings[0];
  EXPECT_EQ(idx.warnings[1].rfind(f.string() + ":6: incomplete last line", 0), 0u) << idx.warnings[1];

  EXPECT_EQ(decide(run_with("aaaa"), idx, false), RunAction::done);
  EXPECT_EQ(decide(run_with("aaaa"), idx, true), RunAction::done);
  EXPECT_EQ(decide(run_with("bbbb"), idx, false), RunAction::done);
  EXPECT_EQ(decide(run_with("bbbb"), idx, true), RunAction::run);
  EXPECT_EQ(decide(run_with("cccc", "no CUDA GPU on this machine"), idx, false), RunAction::skip);
  EXPECT_EQ(decide(run_with("cccc"), idx, false), RunAction::run);  // it can run now
  EXPECT_EQ(decide(run_with("dddd"), idx, false), RunAction::run);
}

TEST(SweepResume, ATruncatedLastLineIsRemovedBeforeAppending) {
  TempDir dir;
  const fs::path f = dir / "r.jsonl";
  const std::string good = line("aaaa", "ok").dump() + "\n";
  {
    std::ofstream out(f);
    out << good << "{\"schema\": \"cnnb";
  }
  const auto w = repair_results_tail(f);
  ASSERT_TRUE(w.has_value());
  EXPECT_NE(w->find("removed an incomplete last line (16 bytes)"), std::string::npos) << *w;
  EXPECT_EQ(slurp(f), good);
  EXPECT_FALSE(repair_results_tail(f).has_value());  // nothing left to repair

  // A whole last line without its newline gets one, so the next line does not run into it.
  {
    std::ofstream out(f, std::ios::app);
    out << line("bbbb", "ok").dump();
  }
  EXPECT_FALSE(repair_results_tail(f).has_value());
  EXPECT_EQ(read_jsonl(f).records.size(), 2u);
  EXPECT_EQ(slurp(f).back(), '\n');
}

TEST(SweepResume, MissingFileIsAnEmptyIndex) {
  TempDir dir;
  const ResultsIndex idx = read_results_index(dir / "none.jsonl");
  EXPECT_EQ(idx.lines, 0);
  EXPECT_TRUE(idx.by_hash.empty());
}

// ---- a lost CUDA context stops the sweep; the next process resumes it

struct LossSweep {
  TempDir dir;
  SweepSpec spec = tiny_spec();
  SweepPlan plan;
  size_t failing = 0;  // index of the run made to fail
  LossSweep() {
    spec.backends = {"cpu-gemm"};
    spec.steps = 2;
    spec.threads = 1;
    spec.test_limit = 16;
    spec.name = "loss";
    plan = expand_sweep(spec, cpu_host());
    const SweepRun* r = find(plan, "cpu-gemm", "single", 1);
    if (!r) throw std::logic_error("no cpu-gemm single x1 run in the plan");
    failing = size_t(r - plan.runs.data());
    // Passes every check before training, then throws from train(): the run fails.
    plan.runs[failing].cfg.init_weights = (dir / "missing.safetensors").string();
  }
  SweepOptions options(ContextProbe probe) const {
    SweepOptions opt;
    opt.out = dir / "r.jsonl";
    opt.context_health = std::move(probe);
    return opt;
  }
};

// The events a sweep reports, in order: the plan; per run that executes, start (once per repetition),
// steps and its finish, numbered i of N over the runs that execute; a run the grid already knows cannot
// run here is a finish without a number; no estimate before the first run has ended.
TEST(SweepEvents, EveryRunIsAnnouncedNumberedAndFinishedInOrder) {
  TempDir dir;
  SweepSpec spec;
  spec.models = {kTinyModel};
  spec.datasets = {kTinyData};
  spec.backends = {"cpu-gemm"};
  spec.strategies = {"allreduce"};
  spec.devices = {"1", "3"};  // a global batch of 8 does not split over 3 replicas: skipped by the grid
  spec.scaling = {"strong"};
  spec.batches = {8};
  spec.steps = 2;
  spec.warmup = 0;
  spec.repetitions = 2;
  spec.test_limit = 16;
  spec.name = "events";
  const SweepPlan plan = expand_sweep(spec, cpu_host());
  ASSERT_EQ(plan.runs.size(), 4u);  // baseline, single x1 (the one-device reference), allreduce x1, allreduce x3
  SweepOptions opt;
  opt.out = dir / "r.jsonl";
  std::vector<SweepEvent> events;
  std::vector<std::string> labels;
  const SweepSummary sum = run_sweep(plan, spec, opt, [&](const SweepEvent& e) {
    events.push_back(e);
    labels.push_back(e.run ? e.run->label() : "");
  });
  EXPECT_EQ(sum.ok, 3);
  EXPECT_EQ(sum.skipped, 1);
  std::vector<std::string> seen;  // kind, index/total, status
  for (const SweepEvent& e : events)
    if (e.kind != SweepEvent::Kind::step)
      seen.push_back(fmt::format("{} {}/{} {}{}", int(e.kind), e.index, e.total, e.status,
                                 e.kind == SweepEvent::Kind::start ? fmt::format(" rep {}/{}", e.repetition, e.repetitions) : ""));
  EXPECT_EQ(seen, (std::vector<std::string>{"0 0/3 ", "1 1/3  rep 1/2", "1 1/3  rep 2/2", "3 1/3 ok", "1 2/3  rep 1/2",
                                             "1 2/3  rep 2/2", "3 2/3 ok", "1 3/3  rep 1/2", "1 3/3  rep 2/2", "3 3/3 ok",
                                             "3 0/3 skipped"}));
  for (size_t i = 0; i < events.size(); ++i) {
    const SweepEvent& e = events[i];
    const bool first_start = e.index == 1 && e.kind == SweepEvent::Kind::start;
    if (e.kind == SweepEvent::Kind::plan || first_start)
      EXPECT_EQ(e.eta, -1) << i << " " << labels[i];
    if (e.kind == SweepEvent::Kind::finish && e.status == "ok") EXPECT_GE(e.eta, 0) << i << " " << labels[i];
  }
  EXPECT_EQ(events.back().detail, "batch 8 does not split evenly over 3 replicas (strong scaling)");
}

TEST(SweepContextLoss, ALostContextStopsTheSweepAndTheNextProcessResumes) {
  LossSweep s;
  ASSERT_EQ(s.plan.runs.size(), 4u);  // baseline, single x1, allreduce x1, allreduce x2
  ASSERT_LT(s.failing, 3u);
  int probes = 0;
  std::vector<int> probed = {-1};
  const std::string lost = "gpu:0: cudaErrorIllegalAddress (an illegal memory access was encountered)";
  const SweepSummary first = run_sweep(s.plan, s.spec, s.options([&](std::span<const int> gpus) {
                                         ++probes;
                                         probed.assign(gpus.begin(), gpus.end());
                                         return ContextHealth{true, lost};
                                       }),
                                       nullptr);
  EXPECT_EQ(probes, 1);
  EXPECT_TRUE(probed.empty());  // a CPU run: no GPU of its own to probe
  EXPECT_EQ(first.ok, int(s.failing));
  EXPECT_EQ(first.failed, 1);
  EXPECT_EQ(first.not_run, int(s.plan.runs.size() - s.failing - 1));
  const SweepRun& bad = s.plan.runs[s.failing];
  EXPECT_EQ(first.stopped,
            fmt::format("CUDA context lost in run {} (cpu-gemm single x1 b8, {} on {}): {}; the rest of the sweep was "
                        "not run; run the same command again to resume in a fresh process",
                        s.failing + 1, kTinyModel, kTinyData, lost));
  auto lines = lines_of(s.dir / "r.jsonl");
  ASSERT_EQ(lines.size(), s.failing + 1);
  const auto& failed = lines.back();
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["sweep"]["config_hash"], bad.hash);
  const std::string reason = failed["reason"];
  EXPECT_EQ(reason.rfind("CUDA context lost: " + lost + " (the run failed with: ", 0), 0u) << reason;
  EXPECT_NE(reason.find("missing.safetensors"), std::string::npos) << reason;

  // The next process: the failed run stays recorded, the runs after it now run, nothing twice.
  int later_probes = 0;
  const SweepSummary second = run_sweep(s.plan, s.spec, s.options([&](std::span<const int>) {
                                          ++later_probes;
                                          return ContextHealth{};
                                        }),
                                        nullptr);
  EXPECT_EQ(later_probes, 0);
  EXPECT_EQ(second.stopped, "");
  EXPECT_EQ(second.already_done, int(s.failing + 1));
  EXPECT_EQ(second.ok, int(s.plan.runs.size() - s.failing - 1));
  lines = lines_of(s.dir / "r.jsonl");  // throws on a line that is not whole JSON
  ASSERT_EQ(lines.size(), s.plan.runs.size());
  std::set<std::string> seen;
  for (const auto& l : lines) EXPECT_TRUE(seen.insert(l["sweep"]["config_hash"].get<std::string>()).second) << l.dump();
  for (const auto& r : s.plan.runs) EXPECT_TRUE(seen.count(r.hash)) << r.label();
}

TEST(SweepContextLoss, AFailureWithAHealthyContextLetsTheSweepGoOn) {
  LossSweep s;
  int probes = 0;
  const SweepSummary sum = run_sweep(s.plan, s.spec, s.options([&](std::span<const int>) {
                                       ++probes;
                                       return ContextHealth{};
                                     }),
                                     nullptr);
  EXPECT_EQ(probes, 1);
  EXPECT_EQ(sum.stopped, "");
  EXPECT_EQ(sum.not_run, 0);
  EXPECT_EQ(sum.failed, 1);
  EXPECT_EQ(sum.ok, int(s.plan.runs.size() - 1));
  const auto lines = lines_of(s.dir / "r.jsonl");
  ASSERT_EQ(lines.size(), s.plan.runs.size());
  const std::string reason = lines[s.failing]["reason"];
  EXPECT_EQ(reason.find("CUDA context lost"), std::string::npos) << reason;
}

using test::xml_problem;

TEST(SweepXml, TheCheckerCatchesBrokenXml) {
  EXPECT_EQ(xml_problem("<?xml version=\"1.0\"?><svg a=\"1>2\"><g/><text>a &amp; b</text></svg>"), "");
  EXPECT_NE(xml_problem("<svg><g></svg>"), "");
  EXPECT_NE(xml_problem("<svg><text>a < b</text></svg>"), "");
  EXPECT_NE(xml_problem("<svg>"), "");
}

// ---- the real CLI

std::string tiny_sweep_args(const fs::path& out, const std::string& extra = "") {
  return fmt::format(
      "sweep --models {} --datasets {} --backends cpu-ref,cpu-gemm --strategies single,allreduce --devices 1,2 "
      "--batches 8 --epochs 2 --steps 3 --warmup 1 --threads 1 --test-limit 16 --name e2e --out '{}' {}",
      kTinyModel, kTinyData, out.string(), extra);
}

// Starts the CLI in the background; returns its pid.
pid_t spawn_cli(const std::string& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = fmt::format("exec '{}' {} > '{}' 2>&1", CNNB_CLI_PATH, args, log.string());
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

size_t count_lines(const fs::path& f) {
  std::ifstream in(f);
  size_t n = 0;
  for (std::string l; std::getline(in, l);) n += !l.empty();
  return n;
}

TEST(SweepCli, KilledMidSweepResumesWithoutDuplicatesOrLossThenReports) {
  TempDir dir;
  const fs::path out = dir / "results" / "e2e.jsonl";  // results/ does not exist yet: created
  // Kill -9 the first attempt once it has written at least one line.
  const pid_t pid = spawn_cli(tiny_sweep_args(out, "--repetitions 3"), dir / "first.log");
  const auto t0 = std::chrono::steady_clock::now();
  while (count_lines(out) < 1 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const size_t after_kill = count_lines(out);
  ASSERT_GE(after_kill, 1u) << slurp(dir / "first.log");
  // And a crash in the middle of a write: half a line at the end.
  {
    std::ofstream app(out, std::ios::app);
    app << "{\"schema\": \"cnnbench.run/1\", \"status\": \"ok\", \"tim";
  }
  const auto second = run_cli(tiny_sweep_args(out, "--repetitions 3"));
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_NE(second.out.find("removed an incomplete last line"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("6 runs in the grid"), std::string::npos) << second.out;

  const auto lines = lines_of(out);  // throws if any line is not JSON
  ASSERT_EQ(lines.size(), 6u) << second.out;
  std::set<std::string> seen;
  for (const auto& l : lines) {
    EXPECT_TRUE(validate_record(l).empty()) << l.dump();
    EXPECT_EQ(l["status"], "ok") << l.dump();
    EXPECT_TRUE(seen.insert(l["sweep"]["config_hash"].get<std::string>()).second) << "duplicate " << l.dump();
    EXPECT_EQ(l["sweep"]["repetitions"]["count"], 3);
    EXPECT_EQ(l["sweep"]["repetitions"]["images_per_second"]["values"].size(), 3u);
    EXPECT_EQ(l["sweep"]["name"], "e2e");
  }
  // A third run has nothing to do.
  const auto third = run_cli(tiny_sweep_args(out, "--repetitions 3"));
  ASSERT_EQ(third.exit_code, 0) << third.out;
  EXPECT_NE(third.out.find("0 to run, 6 already in"), std::string::npos) << third.out;
  EXPECT_EQ(count_lines(out), 6u);

  // The report of the real sweep: every chart, SVGs that are XML, index.md linking them.
  const fs::path rep = dir / "report";
  const auto r = run_cli(fmt::format("report '{}' --out '{}'", out.string(), rep.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string index = slurp(rep / "index.md");
  for (const char* chart : {"speedup_1", "scaling_1", "scaling_2", "breakdown_1", "curves_1", "projection_1"}) {
    EXPECT_TRUE(fs::exists(rep / "charts" / (std::string(chart) + ".dat"))) << chart;
    EXPECT_TRUE(fs::exists(rep / "charts" / (std::string(chart) + ".gp"))) << chart;
    EXPECT_NE(index.find(fmt::format("](charts/{}.svg)", chart)), std::string::npos) << chart;
    if (find_gnuplot()) {
      const std::string svg = slurp(rep / "charts" / (std::string(chart) + ".svg"));
      EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << chart;
      EXPECT_NE(svg.find("</svg>"), std::string::npos) << chart;
      EXPECT_EQ(xml_problem(svg), "") << chart;
      EXPECT_EQ(slurp(rep / "charts" / (std::string(chart) + ".png")).substr(1, 3), "PNG") << chart;
    }
  }
  EXPECT_NE(index.find("| cpu-ref single x1 b8 |"), std::string::npos) << index;
  EXPECT_NE(index.find("| 1.00× |"), std::string::npos);
}

TEST(SweepCli, BadInputIsOneMessageAndExitTwo) {
  TempDir dir;
  {
    std::ofstream t(dir / "bad.toml");
    t << "name = \"x\"\n\nbackend = [\"cpu-gemm\"]\n";
  }
  auto r = run_cli(fmt::format("sweep --config '{}' --dry-run", (dir / "bad.toml").string()));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("bad.toml:3:1: unknown key 'backend' (did you mean 'backends'?)"), std::string::npos) << r.out;

  r = run_cli("sweep --backends cpu-fast --dry-run");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown backend 'cpu-fast'"), std::string::npos) << r.out;

  r = run_cli("sweep --batches 32,x --dry-run");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--batches must be a list of positive integers, got 'x'"), std::string::npos) << r.out;

  r = run_cli(fmt::format("sweep --models {} --datasets {} --backends cpu-gemm --out /proc/cnnbench/r.jsonl", kTinyModel,
                          kTinyData));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--out /proc/cnnbench/r.jsonl"), std::string::npos) << r.out;

  // Another sweep holds the results file.
  {
    const fs::path held = dir / "held.jsonl";
    const int fd = ::open(held.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);
    r = run_cli(fmt::format("sweep --models {} --datasets {} --backends cpu-gemm --steps 1 --out '{}'", kTinyModel, kTinyData,
                            held.string()));
    ::close(fd);
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.out.find("another cnnbench sweep is appending to this file"), std::string::npos) << r.out;
  }

  r = run_cli(fmt::format("sweep --datasets 'synthetic:n=8,shape=1x4' --out '{}'", (dir / "r.jsonl").string()));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("synthetic"), std::string::npos) << r.out;
}

TEST(SweepCli, AModelThatDoesNotFitADatasetIsSkippedThereAndRefusedIfItFitsNone) {
  TempDir dir;
  const fs::path out = dir / "r.jsonl";
  // conv3x3 + maxpool2 cannot run on 2x2 images, but can on 10x10.
  auto r = run_cli(fmt::format("sweep --models {} --datasets '{},synthetic:n=32,shape=1x2x2,classes=10' --backends cpu-gemm "
                               "--batches 8 --steps 2 --warmup 0 --threads 1 --out '{}'",
                               kTinyModel, kTinyData, out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  int skipped = 0, ok = 0;
  for (const auto& l : lines_of(out)) {
    if (l["status"] == "skipped") {
      ++skipped;
      EXPECT_EQ(l["reason"].get<std::string>().rfind(fmt::format("model {} does not fit dataset synthetic:n=32", kTinyModel), 0),
                0u)
          << l.dump();
    }
    ok += l["status"] == "ok";
  }
  EXPECT_EQ(skipped, 2);  // the baseline and cpu-gemm on the 2x2 images
  EXPECT_EQ(ok, 2);
  r = run_cli(fmt::format("sweep --models {} --datasets synthetic:n=32,shape=1x2x2,classes=10 --backends cpu-gemm --out '{}'",
                          kTinyModel, (dir / "s.jsonl").string()));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("does not fit dataset"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "s.jsonl"));
}

TEST(SweepCli, ABatchLargerThanTheTrainingSetIsSkipped) {
  TempDir dir;
  const fs::path out = dir / "r.jsonl";
  const auto r = run_cli(fmt::format("sweep --models {} --datasets {} --backends cpu-gemm --batches 256 --steps 1 --out '{}'",
                                     kTinyModel, kTinyData, out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) {
    EXPECT_EQ(l["status"], "skipped");
    EXPECT_EQ(l["reason"], fmt::format("batch 256 is larger than the training set of {} (128 images)", kTinyData));
  }
}

TEST(SweepCli, AFailingRunIsRecordedAndTheSweepGoesOn) {
  TempDir dir;
  const fs::path out = dir / "r.jsonl";
  // lr so large that training diverges: the watchdog stops it, the line says diverged, the others still run.
  const auto r = run_cli(fmt::format(
      "sweep --models {} --datasets {} --backends cpu-gemm --lr 1e30 --optimizer sgd --batches 8 --steps 3 --warmup 1 "
      "--threads 1 --out '{}'",
      kTinyModel, kTinyData, out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (const auto& l : lines) {
    EXPECT_EQ(l["status"], "diverged") << l.dump();
    EXPECT_NE(l["reason"].get<std::string>().find("diverged"), std::string::npos) << l.dump();
    EXPECT_TRUE(validate_record(l).empty()) << l.dump();
  }
  // Not run again unless asked.
  auto again = run_cli(fmt::format(
      "sweep --models {} --datasets {} --backends cpu-gemm --lr 1e30 --optimizer sgd --batches 8 --steps 3 --warmup 1 "
      "--threads 1 --out '{}' --fail-on-error",
      kTinyModel, kTinyData, out.string()));
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(count_lines(out), 2u);
  again = run_cli(fmt::format(
      "sweep --models {} --datasets {} --backends cpu-gemm --lr 1e30 --optimizer sgd --batches 8 --steps 3 --warmup 1 "
      "--threads 1 --out '{}' --retry-failed --fail-on-error",
      kTinyModel, kTinyData, out.string()));
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_EQ(count_lines(out), 4u);
}

}  // namespace
}  // namespace cnnb
