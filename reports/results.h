#pragma once
// Result files turned into rows for tables and charts, and the numbers derived from them: speedup over
// the sequential CPU baseline, scaling efficiency over one device, time to accuracy.
#include <array>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cnnb {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct EpochPoint {
  int epoch = 0;
  double wall_seconds = 0;   // since the start of training, after this epoch's evaluation
  double train_seconds = 0;  // training time up to the end of this epoch (evaluation excluded)
  double train_loss = kNaN, test_loss = kNaN, test_accuracy = kNaN;
};

// What a `cnnbench search` line adds: which candidate of which search it was, and its fitness.
struct SearchCandidate {
  std::string method, space, devices;
  uint64_t seed = 0;
  int generation = 0, candidate = 0;
  std::string genome;  // the genes as compact JSON
  double accuracy = kNaN, train_seconds = kNaN;
  std::string id() const;  // the search this candidate belongs to: "genetic searches/fmnist.toml seed 1"
};

// The phases of a step as the run record names them (timing.phases_ms), in the order they happen; they
// add up to the step time. Records written before `metrics` and `numerics` existed read 0 for them.
inline constexpr std::array<const char*, 8> kStepPhases = {"data",   "h2d",    "forward", "backward",
                                                           "metrics", "numerics", "exchange", "update"};

struct RunRow {
  std::string source;  // FILE:LINE
  std::string status = "ok", reason;
  std::string key;     // sweep.config_hash, or a hash of the record's configuration
  std::string model, model_spec, dataset, backend, strategy, devices, comm, pipeline = "direct", scaling,
      kernel_set, host;
  int replicas = 1, batch = 0, batch_axis = 0, per_device_batch = 0, threads = 0;
  bool from_sweep = false;
  double images_per_second = kNaN;
  double step_median = kNaN, step_p10 = kNaN, step_p90 = kNaN;  // ms
  std::map<std::string, double> phases;                        // median ms of each of kStepPhases
  std::vector<EpochPoint> epochs;
  double params = 0;
  int repetitions = 1;
  double repetition_cv = 0;  // % over repetitions of images/s
  nlohmann::json environment;
  std::optional<SearchCandidate> search;  // set on `cnnbench search` lines

  bool ok() const { return status == "ok"; }
  bool is_baseline() const;  // the baseline recipe (cpu-ref), single, one replica
  // "cpu-gemm allreduce x2 b64/dev 1 thr": threads per replica on the CPU backends that use them, so a
  // slide tells 1 replica x 2 threads from 2 replicas x 1 thread (cpu-ref is always one thread).
  std::string label() const;
  double exchange_ms() const;  // median exchange phase, 0 when absent
};

struct ResultSet {
  std::vector<RunRow> rows;           // one per configuration and host: the last ok line, else the last line
  std::vector<std::string> warnings;  // malformed lines, schema problems
  std::vector<std::string> files;
  int lines = 0;
};

// Problems that make a line unusable ("timing.images_per_second is missing"); empty when it is valid.
std::vector<std::string> validate_record(const nlohmann::json& j);

// Reads every file (JSON Lines or a single record); InputError when a file cannot be read.
ResultSet load_results(const std::vector<std::filesystem::path>& files);
RunRow row_from_record(const nlohmann::json& j, const std::string& source);

// What the recipe of a record's backend says; for a name this build does not know (a record from an older
// or newer cnnbench) the name's "cpu" prefix decides, as it did before backends had recipes.
bool backend_on_cpu(std::string_view backend);
// Position in the recipe table; an unknown name ranks after every known one.
int backend_display_rank(std::string_view backend);

// The sequential CPU baseline of a row: cpu-ref, single, one replica, same model, dataset and batch.
const RunRow* find_baseline(const ResultSet& set, const RunRow& row);
// X(1) of a row: one replica of the same backend, model, dataset, pipeline, kernels and batch; single if it
// ran (a strategy's own overhead on one replica counts against its scaling), else the same strategy.
const RunRow* find_one_device(const ResultSet& set, const RunRow& row);

// "synthetic 1x28x28 (n=2048)" for "synthetic:n=2048,shape=1x28x28,classes=10": short enough for a chart title.
std::string short_dataset(const std::string& spec);

std::optional<double> speedup_vs_baseline(const ResultSet& set, const RunRow& row);
// E(N) = X(N) / (N X(1)); nullopt for one replica or without X(1).
std::optional<double> scaling_efficiency(const ResultSet& set, const RunRow& row);
// Training seconds until test accuracy first reaches target (at an epoch's end); nullopt if never.
std::optional<double> time_to_accuracy(const RunRow& row, double target);

}  // namespace cnnb
