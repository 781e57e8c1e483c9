#pragma once
// A sweep: the grid of runs behind `cnnbench sweep`. The grid comes from CLI lists or a
// TOML file; every run gets a hash of its configuration, so re-running the same sweep skips what its
// JSON Lines file already holds. One line per run: the run record plus a "sweep" object (hash, status,
// repetition statistics), appended and fsynced so that a crash loses at most the run in progress.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/context_health.h"
#include "bench/harness/trainer.h"
#include "core/config_hash.h"

namespace cnnb {

// What the user asks for. Axes are lists (their product is the grid); the rest applies to every run.
struct SweepSpec {
  std::string name;  // recorded on every line; the TOML file's stem by default
  std::vector<std::string> models = {"simple"};
  std::vector<std::string> datasets = {"fashion-mnist"};
  std::vector<std::string> backends = {"cpu-ref", "cpu-gemm"};
  std::vector<std::string> strategies = {"single"};
  std::vector<std::string> devices = {"1"};  // replica counts: positive integers, or "all" (every GPU / core)
  std::vector<int> batches = {64};
  std::vector<std::string> pipelines = {"direct"};  // direct, prefetch
  std::vector<std::string> scaling = {"weak"};      // weak: batch is per device; strong: batch is global
  // Kernel override sets, "op=variant;op=family/variant"; "" = the backend's own recipe. Never applied to
  // the cpu-ref baseline.
  std::vector<std::string> kernels = {""};
  int epochs = 1;
  int64_t steps = 0;  // per epoch; 0 = a full pass
  int warmup = 5;
  int repetitions = 1;
  int64_t test_limit = 0;
  uint64_t seed = 42;
  int threads = 0;
  OptimizerConfig optimizer;
  StrategyOptions strategy_options;  // each applies to the runs of the strategies that declare it
  // The cpu-ref baseline is slow: it may run fewer steps than the grid (0 = the same as the grid).
  int64_t baseline_steps = 0;
  int baseline_epochs = 0;
  std::string out;  // default results file (the CLI's --out wins)
};

// Reads a sweep file. Errors name the file, line and column: unknown keys, wrong types, empty lists,
// impossible values. Keys are those of SweepSpec (`strategies`, `batches`, `lr`, ...).
SweepSpec parse_sweep_toml(const std::filesystem::path& file);
SweepSpec parse_sweep_toml_string(std::string_view text, const std::string& source_name);

// Throws InputError (naming the key) for empty lists, unknown strategies, pipelines, scaling modes or
// backends, and numbers out of range. Does not look at the machine.
void validate_sweep(const SweepSpec& spec);

// Splits a CLI list value: "a,b" -> {a, b}. Model and dataset specs contain commas themselves, so those
// are split only where a new item starts (a preset name, or a piece that is not key=value).
std::vector<std::string> split_list(std::string_view text);
std::vector<std::string> split_models(std::string_view text);
std::vector<std::string> split_datasets(std::string_view text);

// What this machine can run: decides which runs are written as skipped, and why.
struct SweepHost {
  int gpus = 0;
  int cores = 1;
  // name -> why, as it follows "backend NAME ": "is not in this build (...)" or "is not available (...)"
  std::map<std::string, std::string> unavailable_backends;
  bool prefetch = true;                                       // the prefetch pipeline can run here
  // This machine, for a sweep over these backends.
  static SweepHost detect(const std::vector<std::string>& backends);
};

struct SweepRun {
  TrainConfig cfg;          // what train() gets
  std::string model_spec;   // the model's expanded spec string (what is hashed, so presets and specs agree)
  std::string pipeline = "direct";
  std::string scaling = "weak";
  int batch_axis = 0;       // the grid's batch value: per device (weak) or global (strong)
  int device_count = 1;
  bool baseline = false;    // the sequential CPU baseline (cpu-ref, single, 1 device)
  std::string kernel_set;   // as given in the grid
  std::string hash;         // config_hash(config_json())
  std::string skip_reason;  // non-empty: cannot run here
  nlohmann::json config_json() const;  // the canonical configuration that is hashed
  nlohmann::json record_config() const;  // the run record's "config" for a line without a record
  std::string label() const;           // "cpu-gemm allreduce x2 b64"
};

struct SweepPlan {
  std::vector<SweepRun> runs;  // baselines first, then the grid in a stable order; no two share a hash
  int dropped = 0;             // meaningless combinations left out (single with more than one device)
};

// The grid, with the sequential baseline added for every (model, dataset, batch) and the one-device run of
// each backend for every scaled configuration. Throws InputError for bad input (validate_sweep and model
// specs); combinations this host cannot run get a skip_reason.
SweepPlan expand_sweep(const SweepSpec& spec, const SweepHost& host);


// ---- results file (JSON Lines) and resume

struct PriorRun {
  std::string status;  // ok, failed, diverged, skipped
  std::string reason;
};

struct ResultsIndex {
  std::map<std::string, PriorRun> by_hash;  // the last line of each hash; an "ok" line is never replaced
  int lines = 0;
  std::vector<std::string> warnings;        // "FILE:LINE: ..." for malformed lines
};

// Reads what an earlier run of the sweep left. A missing file is an empty index.
ResultsIndex read_results_index(const std::filesystem::path& file);

// Makes the file safe to append to: a last line cut off by a crash (no newline, not valid JSON) is removed
// and returned as a warning; a valid last line without its newline gets one.
std::optional<std::string> repair_results_tail(const std::filesystem::path& file);

enum class RunAction { run, done, skip };
// done: an ok line exists (or a failed or diverged one and !retry_failed); skip: cannot run here and that was already
// recorded with the same reason; run: everything else (skipped runs that can now run, too).
RunAction decide(const SweepRun& run, const ResultsIndex& index, bool retry_failed);

// ---- running

struct RepetitionStats {
  std::vector<double> images_per_second, step_ms_median;
};
// The sweep object on every line: hash, grid fields, and the statistics over repetitions.
nlohmann::json sweep_fields(const SweepRun& run, const std::string& sweep_name, const RepetitionStats* reps,
                            double seconds);
// A line for a run that did not produce a record: the configuration, status and reason.
nlohmann::json not_run_line(const SweepRun& run, const std::string& sweep_name, const std::string& status,
                            const std::string& reason, double seconds);

struct SweepOptions {
  std::filesystem::path out;
  bool retry_failed = false;
  bool dry_run = false;  // print the plan and what would run, run nothing
  // Asked after a run failed, with the run's GPUs (none for CPU runs); tests pretend a loss with it.
  ContextProbe context_health = cuda_context_health;
};

// What the progress display is told.
struct SweepEvent {
  enum class Kind { plan, start, step, finish } kind = Kind::plan;
  int index = 0, total = 0;  // run i of N (1-based), over the runs that will execute
  const SweepRun* run = nullptr;
  int repetition = 0, repetitions = 0;
  const Progress* progress = nullptr;  // kind == step
  std::string status, detail;          // kind == finish
  double elapsed = 0, eta = -1;        // seconds since the sweep began; estimate of what is left (-1: unknown)
};
using SweepEventFn = std::function<void(const SweepEvent&)>;

struct SweepSummary {
  int ok = 0, failed = 0, diverged = 0, skipped = 0, already_done = 0, total = 0;
  int not_run = 0;      // runs left for the next process after a lost CUDA context
  std::string stopped;  // why the sweep stopped before its end ("CUDA context lost in run N ..."); empty otherwise
};

// Runs the plan: datasets loaded once each, repetitions of each run, one fsynced line per run. A run
// that throws is written as failed (one the watchdog stopped as diverged, with its record) and the sweep
// goes on, unless the failure lost the CUDA context (opt.context_health): then the run's line says so and
// the sweep stops, leaving the remaining runs to a re-run of the same command in a fresh process.
SweepSummary run_sweep(const SweepPlan& plan, const SweepSpec& spec, const SweepOptions& opt,
                       const SweepEventFn& on_event);

}  // namespace cnnb
