#include "bench/harness/sweep.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/backend.h"
#include "bench/harness/option_fields.h"
#include "bench/harness/run_record.h"
#include "bench/harness/stats.h"
#include "bench/harness/watchdog.h"
#include "core/clock.h"
#include "core/device.h"
#include "core/error.h"
#include "core/files.h"
#include "core/model_spec.h"
#include "reports/jsonl.h"
#include "strategies/comm/process_group.h"
#include "strategies/strategy.h"

namespace cnnb {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_on(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t next = text.find(sep, pos);
    out.push_back(trim(text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos)));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

// Joins comma-separated pieces back into items: a new item starts where starts_item says so.
template <class StartsItem>
std::vector<std::string> regroup(std::string_view text, StartsItem starts_item) {
  std::vector<std::string> items;
  for (const std::string& piece : split_on(text, ',')) {
    if (items.empty() || starts_item(items.back(), piece))
      items.push_back(piece);
    else
      items.back() += "," + piece;
  }
  return items;
}

bool is_preset(std::string_view name) {
  for (const auto& p : model_presets())
    if (p.name == name) return true;
  return false;
}

std::map<std::string, std::string> parse_kernel_set(std::string_view set) {
  std::map<std::string, std::string> m;
  if (trim(set).empty()) return m;
  for (const std::string& item : split_on(set, ';')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      fail_input("kernel set '{}': '{}' is not op=variant (e.g. conv_fwd=im2col_gemm; items separated by ';')", set,
                 item);
    m[trim(item.substr(0, eq))] = trim(item.substr(eq + 1));
  }
  return m;
}

template <class T>
void need_nonempty(const std::vector<T>& v, std::string_view key, std::string_view what) {
  if (v.empty()) fail_input("{} is empty; give at least one {}", key, what);
}

const char* kind_name(OptimizerConfig::Kind k) { return k == OptimizerConfig::Kind::sgd ? "sgd" : "adam"; }

double cv_percent(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return mean > 0 ? 100.0 * std::sqrt(ss / double(v.size() - 1)) / mean : 0;
}

nlohmann::json spread(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  return {{"values", v},
          {"median", median(v)},
          {"min", *std::min_element(v.begin(), v.end())},
          {"max", *std::max_element(v.begin(), v.end())},
          {"cv_percent", cv_percent(v)}};
}

}  // namespace

// ---- lists

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  for (std::string& s : split_on(text, ','))
    if (!s.empty()) out.push_back(std::move(s));
  return out;
}

std::vector<std::string> split_models(std::string_view text) {
  // A preset stands alone: "simple,tfcifar" is two models, "conv3x3x8,relu,fc10" one.
  return regroup(text, [](const std::string& prev, const std::string& piece) {
    return is_preset(prev) || is_preset(piece);
  });
}

std::vector<std::string> split_datasets(std::string_view text) {
  // "synthetic:n=64,shape=1x8x8,classes=10": every piece after the first is key=value.
  return regroup(text, [](const std::string&, const std::string& piece) {
    const auto eq = piece.find('=');
    const auto colon = piece.find(':');
    const bool key_value = eq != std::string::npos && (colon == std::string::npos || colon > eq);
    return !key_value;
  });
}

// ---- validation

void validate_sweep(const SweepSpec& s) {
  need_nonempty(s.models, "models", "model (simple, tfcifar or a spec string)");
  need_nonempty(s.datasets, "datasets", "dataset");
  need_nonempty(s.backends, "backends", "backend (see `cnnbench list`)");
  need_nonempty(s.strategies, "strategies", "strategy (single, allreduce, tower, param-avg, independent)");
  need_nonempty(s.devices, "devices", "device count (1, 2, ... or all)");
  need_nonempty(s.batches, "batches", "batch size");
  need_nonempty(s.pipelines, "pipelines", "pipeline (direct or prefetch)");
  need_nonempty(s.scaling, "scaling", "scaling mode (weak or strong)");
  need_nonempty(s.kernels, "kernels", "kernel set (\"\" for the backends' own)");
  for (const auto& m : s.models) {
    if (m.empty()) fail_input("models: an empty model name");
    try {
      parse_model(m);
    } catch (const InputError& e) {
      fail_input("models: {}", e.what());
    }
  }
  const auto forms = dataset_spec_forms();
  for (const auto& d : s.datasets) {
    const bool known = d == "fashion-mnist" || d.rfind("mnist:", 0) == 0 || d.rfind("cifar10:", 0) == 0 ||
                       d.rfind("synthetic:", 0) == 0;
    if (!known) fail_input("datasets: '{}' is not a dataset; expected one of: {}", d, fmt::join(forms, ", "));
  }
  const auto names = backend_names();
  for (const auto& b : s.backends)
    if (std::find(names.begin(), names.end(), b) == names.end())
      fail_input("backends: unknown backend '{}'; expected one of: {}", b, fmt::join(names, ", "));
  for (const auto& st : s.strategies) {
    try {
      check_strategy_name(st);
    } catch (const InputError& e) {
      fail_input("strategies: {}", e.what());
    }
  }
  for (const auto& d : s.devices) {
    if (d == "all") continue;
    int n = 0;
    const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), n);
    if (ec != std::errc() || end != d.data() + d.size() || n < 1 || n > kMaxCpuSlots)
      fail_input("devices: '{}' is not a device count; expected an integer in [1, {}] or all", d, kMaxCpuSlots);
  }
  for (int b : s.batches)
    if (b < 1) fail_input("batches: {} is not a positive batch size", b);
  for (const auto& p : s.pipelines)
    if (p != "direct" && p != "prefetch") fail_input("pipelines: unknown pipeline '{}'; expected direct or prefetch", p);
  for (const auto& m : s.scaling)
    if (m != "weak" && m != "strong")
      fail_input("scaling: unknown mode '{}'; expected weak (batch per device) or strong (global batch)", m);
  for (const auto& k : s.kernels) parse_kernel_set(k);
  if (s.epochs < 1) fail_input("epochs must be a positive integer, got {}", s.epochs);
  if (s.steps < 0) fail_input("steps must be 0 (a full epoch) or positive, got {}", s.steps);
  if (s.warmup < 0) fail_input("warmup must be >= 0, got {}", s.warmup);
  if (s.repetitions < 1 || s.repetitions > 100) fail_input("repetitions must be in [1, 100], got {}", s.repetitions);
  if (s.test_limit < 0) fail_input("test_limit must be >= 0, got {}", s.test_limit);
  if (s.threads < 0) fail_input("threads must be 0 (all cores) or positive, got {}", s.threads);
  if (!(s.optimizer.lr > 0) || !std::isfinite(s.optimizer.lr)) fail_input("lr must be a positive number, got {}", s.optimizer.lr);
  if (!(s.optimizer.momentum >= 0 && s.optimizer.momentum < 1))
    fail_input("momentum must be in [0, 1), got {}", s.optimizer.momentum);
  if (!(s.optimizer.weight_decay >= 0)) fail_input("weight_decay must be >= 0, got {}", s.optimizer.weight_decay);
  check_option_values(s.strategy_options, option_key_name);
  if (s.baseline_steps < 0) fail_input("baseline_steps must be >= 0, got {}", s.baseline_steps);
  if (s.baseline_epochs < 0) fail_input("baseline_epochs must be >= 0, got {}", s.baseline_epochs);
  // A grid is the product of its axes: refuse one too large to expand before building a single run.
  constexpr double kMaxGrid = 100000;
  const double grid = double(s.models.size()) * double(s.datasets.size()) * double(s.backends.size()) *
                      double(s.strategies.size()) * double(s.devices.size()) * double(s.batches.size()) *
                      double(s.pipelines.size()) * double(s.scaling.size()) * double(s.kernels.size());
  if (grid > kMaxGrid)
    fail_input("the grid has {:.0f} combinations (models x datasets x backends x strategies x devices x batches x "
               "pipelines x scaling x kernels); the limit is {:.0f}: split it into several sweeps",
               grid, kMaxGrid);
}

// ---- host

SweepHost SweepHost::detect() {
  SweepHost h;
  h.gpus = cuda_device_count();
  h.cores = int(std::max(1u, std::thread::hardware_concurrency()));
  for (const auto& b : backend_infos())
    if (!b.available) h.unavailable_backends[std::string(b.name)] = std::string(b.unavailable_reason);
  h.prefetch = true;  // datasets/loader: every device has host staging and a background upload
  return h;
}

// ---- runs

nlohmann::json SweepRun::config_json() const {
  nlohmann::json kernels = nlohmann::json::object();
  for (const auto& [op, v] : cfg.kernels) kernels[op] = v;
  nlohmann::json j = {{"model", model_spec},
          {"dataset", cfg.dataset},
          {"backend", cfg.backend},
          {"kernels", kernels},
          {"strategy", cfg.strategy},
          {"devices", cfg.devices},
          {"batch", cfg.batch},
          {"epochs", cfg.epochs},
          {"steps", cfg.steps_per_epoch},
          {"warmup", cfg.warmup_steps},
          {"seed", cfg.seed},
          {"threads", cfg.threads},
          {"test_limit", cfg.test_limit},
          {"optimizer",
           {{"kind", kind_name(cfg.optimizer.kind)},
            {"lr", cfg.optimizer.lr},
            {"momentum", cfg.optimizer.momentum},
            {"weight_decay", cfg.optimizer.weight_decay},
            {"beta1", cfg.optimizer.beta1},
            {"beta2", cfg.optimizer.beta2},
            {"eps", cfg.optimizer.eps}}},
          {"pipeline", pipeline}};
  add_option_fields(j, cfg.strategy, cfg.strategy_options);
  return j;
}

nlohmann::json SweepRun::record_config() const {
  nlohmann::json kernels = nlohmann::json::object();
  for (const auto& [op, v] : cfg.kernels) kernels[op] = v;
  const nlohmann::json c = config_json();
  nlohmann::json j = {{"model", cfg.model},
          {"model_spec", model_spec},
          {"dataset", cfg.dataset},
          {"backend", cfg.backend},
          {"kernel_overrides", kernels},
          {"strategy", cfg.strategy},
          {"devices", cfg.devices},
          {"replicas", device_count},
          {"batch", cfg.batch},
          {"epochs", cfg.epochs},
          {"steps_per_epoch", cfg.steps_per_epoch},
          {"seed", cfg.seed},
          {"warmup_steps", cfg.warmup_steps},
          {"threads", cfg.threads},
          {"pipeline", pipeline},
          {"optimizer", c["optimizer"]}};
  add_option_fields(j, cfg.strategy, cfg.strategy_options);
  return j;
}

std::string SweepRun::label() const {
  std::string s = fmt::format("{} {} x{} b{}", cfg.backend, cfg.strategy, device_count, batch_axis);
  if (device_count > 1) s += scaling == "weak" ? "/dev" : " global";
  if (pipeline != "direct") s += " " + pipeline;
  if (!kernel_set.empty()) s += " [" + kernel_set + "]";
  return s;
}

namespace {

struct Axis {
  std::string model, dataset, backend, strategy, pipeline, scaling, kernels;
  int devices = 1, batch = 64;
};

SweepRun make_run(const SweepSpec& s, const Axis& a, const std::string& model_spec, const SweepHost& host,
                  DeviceKind kind) {
  SweepRun r;
  r.model_spec = model_spec;
  r.pipeline = a.pipeline;
  r.scaling = a.scaling;
  r.batch_axis = a.batch;
  r.device_count = a.devices;
  r.kernel_set = a.kernels;
  TrainConfig& c = r.cfg;
  c.model = a.model;
  c.dataset = a.dataset;
  c.backend = a.backend;
  c.kernels = parse_kernel_set(a.kernels);
  c.optimizer = s.optimizer;
  c.batch = a.scaling == "weak" ? a.batch * a.devices : a.batch;
  c.epochs = s.epochs;
  c.steps_per_epoch = s.steps;
  c.seed = s.seed;
  c.threads = s.threads;
  c.warmup_steps = s.warmup;
  c.test_limit = s.test_limit;
  c.strategy = a.strategy;
  for (const auto& [key, value] : s.strategy_options.all_given())
    if (takes_option(a.strategy, key)) c.strategy_options.set(key, value);
  c.pipeline = parse_pipeline(a.pipeline);
  if (kind == DeviceKind::cpu) {
    c.devices = fmt::format("cpu:{}", a.devices);
  } else {
    std::vector<int> ids(size_t(a.devices));
    std::iota(ids.begin(), ids.end(), 0);
    c.devices = fmt::format("gpu:{}", fmt::join(ids, ","));
  }
  // Why this machine cannot run it, first reason wins.
  if (const auto it = host.unavailable_backends.find(a.backend); it != host.unavailable_backends.end())
    r.skip_reason = fmt::format("backend {} is not in this build ({})", a.backend, it->second);
  else if (kind != DeviceKind::cpu && host.gpus == 0)
    r.skip_reason = "no CUDA GPU on this machine";
  else if (kind != DeviceKind::cpu && a.devices > host.gpus)
    r.skip_reason = fmt::format("needs {} GPUs, this machine has {}", a.devices, host.gpus);
  else if (a.pipeline == "prefetch" && !host.prefetch)
    r.skip_reason = "the prefetch pipeline cannot run on this host";
  else if (c.batch % a.devices != 0)
    r.skip_reason = fmt::format("batch {} does not split evenly over {} replicas (strong scaling)", c.batch, a.devices);
  if (r.skip_reason.empty() && !c.kernels.empty()) {
    try {
      resolve_backend(c.backend, c.kernels);
    } catch (const InputError& e) {
      r.skip_reason = fmt::format("kernel set '{}' does not apply to {}: {}", a.kernels, a.backend, e.what());
    }
  }
  return r;
}

}  // namespace

SweepPlan expand_sweep(const SweepSpec& s, const SweepHost& host) {
  validate_sweep(s);
  SweepPlan plan;
  std::map<std::string, size_t> seen;  // hash -> index in plan.runs
  auto add = [&](SweepRun r, bool baseline) {
    r.hash = config_hash(r.config_json());
    if (const auto it = seen.find(r.hash); it != seen.end()) {
      plan.runs[it->second].baseline = plan.runs[it->second].baseline || baseline;
      return;
    }
    r.baseline = baseline;
    seen[r.hash] = plan.runs.size();
    plan.runs.push_back(std::move(r));
  };
  std::set<std::string> kernel_sets_that_apply;
  std::map<std::string, std::string> kernel_set_errors;

  for (const auto& model : s.models) {
    const std::string spec = parse_model(model).str();
    for (const auto& dataset : s.datasets) {
      for (int batch : s.batches) {
        // The sequential CPU baseline of every speedup: cpu-ref, single, one device, the same model and batch.
        Axis base{model, dataset, std::string(baseline_backend()), "single", "direct", "weak", "", 1, batch};
        SweepRun b = make_run(s, base, spec, host, DeviceKind::cpu);
        if (s.baseline_steps > 0) b.cfg.steps_per_epoch = s.baseline_steps;
        if (s.baseline_epochs > 0) b.cfg.epochs = s.baseline_epochs;
        add(std::move(b), true);
        for (const auto& backend : s.backends) {
          const DeviceKind kind = backend_device(backend);
          for (const auto& strategy : s.strategies)
            for (const auto& dev : s.devices) {
              int n = 0;
              if (dev == "all")
                n = kind == DeviceKind::cpu ? host.cores : std::max(host.gpus, 1);
              else
                n = std::stoi(dev);
              if (strategy == "single" && n > 1) {
                ++plan.dropped;
                continue;
              }
              for (const auto& scaling : s.scaling)
                for (const auto& pipeline : s.pipelines)
                  for (const auto& kernels : s.kernels) {
                    Axis a{model, dataset, backend, strategy, pipeline, scaling, kernels, n, batch};
                    SweepRun r = make_run(s, a, spec, host, kind);
                    if (!kernels.empty()) {
                      if (r.skip_reason.rfind("kernel set", 0) == 0)
                        kernel_set_errors.emplace(kernels, r.skip_reason);
                      else
                        kernel_sets_that_apply.insert(kernels);
                    }
                    // Efficiency E(N) = X(N) / (N X(1)) needs X(1): one device of the same backend.
                    if (n > 1) {
                      Axis one = a;
                      one.strategy = "single";
                      one.devices = 1;
                      add(make_run(s, one, spec, host, kind), false);
                    }
                    add(std::move(r), false);
                  }
            }
        }
      }
    }
  }
  // A kernel set that fits no backend is a typo, not a combination this machine lacks.
  for (const auto& [set, err] : kernel_set_errors)
    if (!kernel_sets_that_apply.count(set)) fail_input("kernels: {}", err);
  // Baselines first (speedups are available as soon as possible), then by device count.
  std::stable_sort(plan.runs.begin(), plan.runs.end(), [](const SweepRun& a, const SweepRun& b) {
    if (a.baseline != b.baseline) return a.baseline;
    return a.device_count < b.device_count;
  });
  return plan;
}

// ---- results file

ResultsIndex read_results_index(const fs::path& file) {
  ResultsIndex idx;
  std::error_code ec;
  if (!fs::exists(file, ec)) return idx;
  JsonlContents c = read_jsonl(file);
  idx.warnings = std::move(c.warnings);
  for (const auto& rec : c.records) {
    ++idx.lines;
    const auto sw = rec.value.find("sweep");
    if (sw == rec.value.end() || !sw->is_object() || !sw->contains("config_hash")) continue;
    const std::string hash = (*sw)["config_hash"].is_string() ? (*sw)["config_hash"].get<std::string>() : "";
    if (hash.empty()) continue;
    PriorRun p;
    p.status = rec.value.value("status", "");
    const auto reason = rec.value.find("reason");
    if (reason != rec.value.end() && reason->is_string()) p.reason = reason->get<std::string>();
    auto& slot = idx.by_hash[hash];
    if (slot.status != "ok") slot = p;
  }
  return idx;
}

std::optional<std::string> repair_results_tail(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec) || fs::file_size(file, ec) == 0) return std::nullopt;
  const JsonlContents c = read_jsonl(file);
  if (!c.missing_newline) return std::nullopt;
  if (c.incomplete_tail) {
    const uintmax_t size = fs::file_size(file, ec);
    if (::truncate(file.c_str(), off_t(c.complete_bytes)) != 0)
      fail_input("cannot repair {}: {}", file.string(), std::strerror(errno));
    return fmt::format("{}: removed an incomplete last line ({} bytes) left by an interrupted write", file.string(),
                       size - c.complete_bytes);
  }
  // The last line is whole but lacks its newline: give it one so the next line starts on its own.
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 || ::write(fd, "\n", 1) != 1) {
    if (fd >= 0) ::close(fd);
    fail_input("cannot append to {}: {}", file.string(), std::strerror(errno));
  }
  ::fsync(fd);
  ::close(fd);
  return std::nullopt;
}

RunAction decide(const SweepRun& run, const ResultsIndex& index, bool retry_failed) {
  const auto it = index.by_hash.find(run.hash);
  if (it == index.by_hash.end()) return RunAction::run;
  const PriorRun& p = it->second;
  if (p.status == "ok") return RunAction::done;
  if (p.status == "failed" || p.status == "diverged") return retry_failed ? RunAction::run : RunAction::done;
  if (p.status == "skipped" && !run.skip_reason.empty() && p.reason == run.skip_reason) return RunAction::skip;
  return RunAction::run;
}

// ---- lines

nlohmann::json sweep_fields(const SweepRun& run, const std::string& sweep_name, const RepetitionStats* reps,
                            double seconds) {
  nlohmann::json j = {{"name", sweep_name},
                      {"config_hash", run.hash},
                      {"config", run.config_json()},
                      {"pipeline", run.pipeline},
                      {"scaling", run.scaling},
                      {"batch", run.batch_axis},
                      {"per_device_batch", run.cfg.batch / run.device_count},
                      {"device_count", run.device_count},
                      {"baseline", run.baseline},
                      {"kernel_set", run.kernel_set},
                      {"seconds", seconds},
                      {"finished", utc_now()}};
  if (reps)
    j["repetitions"] = {{"count", reps->images_per_second.size()},
                        {"images_per_second", spread(reps->images_per_second)},
                        {"step_ms_median", spread(reps->step_ms_median)}};
  else
    j["repetitions"] = nullptr;
  return j;
}

nlohmann::json not_run_line(const SweepRun& run, const std::string& sweep_name, const std::string& status,
                            const std::string& reason, double seconds) {
  return {{"schema", kRunSchema},
          {"status", status},
          {"reason", reason},
          {"config", run.record_config()},
          {"sweep", sweep_fields(run, sweep_name, nullptr, seconds)},
          {"environment", environment_json()}};
}

// ---- running

namespace {

// Two sweeps appending to one file would run the same configurations twice: the second one is refused.
// flock is released by the kernel when the process dies, so a crash never leaves the file locked.
class ResultsLock {
 public:
  explicit ResultsLock(const fs::path& file) {
    fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_input("cannot open {} for appending: {}", file.string(), std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fail_input("{}: another cnnbench sweep is appending to this file; wait for it to finish or give another --out",
                 file.string());
    }
  }
  ResultsLock(const ResultsLock&) = delete;
  ResultsLock& operator=(const ResultsLock&) = delete;
  ~ResultsLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

std::vector<int> run_gpus(const ParallelPlan& parallel) {
  return parallel.devices.kind == DeviceKind::cuda ? parallel.devices.ids : std::vector<int>{};
}

std::string context_lost_message(const SweepRun& r, int number, const std::string& error) {
  return fmt::format(
      "CUDA context lost in run {} ({}, {} on {}): {}; the rest of the sweep was not run; run the same command "
      "again to resume in a fresh process",
      number, r.label(), r.cfg.model, r.cfg.dataset, error);
}

}  // namespace

SweepSummary run_sweep(const SweepPlan& plan, const SweepSpec& spec, const SweepOptions& opt,
                       const SweepEventFn& on_event) {
  const auto t0 = SteadyClock::now();
  const ResultsIndex index = read_results_index(opt.out);
  SweepSummary sum;
  sum.total = int(plan.runs.size());
  std::vector<RunAction> actions;
  int to_run = 0;
  for (const auto& r : plan.runs) {
    actions.push_back(decide(r, index, opt.retry_failed));
    if (actions.back() == RunAction::run && r.skip_reason.empty()) ++to_run;
  }
  const auto emit = [&](SweepEvent e) {
    if (on_event) on_event(e);
  };
  {
    SweepEvent e;
    e.kind = SweepEvent::Kind::plan;
    e.total = to_run;
    e.detail = fmt::format("{} runs in the grid, {} to run, {} already in {}", plan.runs.size(), to_run,
                           std::count(actions.begin(), actions.end(), RunAction::done), opt.out.string());
    for (const auto& w : index.warnings) e.detail += "\nwarning: " + w;
    emit(e);
  }
  if (opt.dry_run) {
    for (size_t i = 0; i < plan.runs.size(); ++i) {
      SweepEvent e;
      e.kind = SweepEvent::Kind::finish;
      e.run = &plan.runs[i];
      e.status = actions[i] == RunAction::done          ? "done"
                 : !plan.runs[i].skip_reason.empty()     ? "skip"
                                                         : "would run";
      e.detail = plan.runs[i].skip_reason;
      emit(e);
    }
    return sum;
  }
  if (const auto w = repair_results_tail(opt.out)) {
    SweepEvent e;
    e.kind = SweepEvent::Kind::plan;
    e.total = to_run;
    e.detail = "warning: " + *w;
    emit(e);
  }

  // Every dataset the pending runs need, loaded before the first run. A model that does not fit a dataset
  // (too small an image for its layers) skips those runs; a model that fits none of them is a bad model.
  std::map<std::pair<std::string, uint64_t>, Dataset> datasets;
  std::map<std::pair<std::string, std::string>, std::string> misfit;  // (model, dataset) -> why
  std::map<std::string, bool> fits_some;
  std::set<std::pair<std::string, std::string>> checked;
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const SweepRun& r = plan.runs[i];
    if (actions[i] != RunAction::run || !r.skip_reason.empty()) continue;
    const auto key = std::make_pair(r.cfg.dataset, r.cfg.seed);
    if (!datasets.count(key)) datasets.emplace(key, load_dataset(r.cfg.dataset, r.cfg.seed));
    const Dataset& d = datasets.at(key);
    if (!checked.insert({r.cfg.model, r.cfg.dataset}).second) continue;
    try {
      plan_model(parse_model(r.cfg.model), d.shape, d.classes);
      fits_some[r.cfg.model] = true;
    } catch (const InputError& e) {
      misfit[{r.cfg.model, r.cfg.dataset}] =
          fmt::format("model {} does not fit dataset {}: {}", r.cfg.model, r.cfg.dataset, e.what());
    }
  }
  for (const auto& [md, why] : misfit)
    if (!fits_some[md.first]) fail_input("{}", why);
  const ResultsLock lock(opt.out);
  const auto single = make_single_process_group();
  int done_runs = 0;
  double run_seconds = 0;  // time spent in executed runs: the rate behind the estimate
  auto write = [&](const nlohmann::json& line) { append_line_durable(opt.out, line.dump()); };
  auto recorded_skip = [&](const SweepRun& r, const std::string& reason) {
    const auto it = index.by_hash.find(r.hash);
    return it != index.by_hash.end() && it->second.status == "skipped" && it->second.reason == reason;
  };

  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const SweepRun& r = plan.runs[i];
    if (actions[i] == RunAction::done) {
      ++sum.already_done;
      continue;
    }
    if (actions[i] == RunAction::skip) {
      ++sum.skipped;
      continue;
    }
    auto finish = [&](const std::string& status, const std::string& detail, int number) {
      SweepEvent e;
      e.kind = SweepEvent::Kind::finish;
      e.index = number;
      e.total = to_run;
      e.run = &r;
      e.status = status;
      e.detail = detail;
      e.elapsed = seconds_since(t0);
      const double left = to_run - done_runs;
      e.eta = done_runs > 0 ? run_seconds / done_runs * left : -1;
      emit(e);
    };
    if (!r.skip_reason.empty()) {
      write(not_run_line(r, spec.name, "skipped", r.skip_reason, 0));
      ++sum.skipped;
      finish("skipped", r.skip_reason, 0);
      continue;
    }
    if (const auto m = misfit.find({r.cfg.model, r.cfg.dataset}); m != misfit.end()) {
      if (!recorded_skip(r, m->second)) write(not_run_line(r, spec.name, "skipped", m->second, 0));
      ++sum.skipped;
      --to_run;
      finish("skipped", m->second, 0);
      continue;
    }
    const int number = done_runs + 1;
    const Dataset& data = datasets.at({r.cfg.dataset, r.cfg.seed});
    // What plan_parallel refuses (devices, batch split, communicator) cannot run here: skipped, not failed.
    ParallelPlan parallel;
    try {
      parallel = plan_parallel(r.cfg, *single);
      if (data.train.count() < r.cfg.batch)
        fail_input("batch {} is larger than the training set of {} ({} images)", r.cfg.batch, data.name,
                   data.train.count());
    } catch (const InputError& e) {
      if (!recorded_skip(r, e.what())) write(not_run_line(r, spec.name, "skipped", e.what(), 0));
      ++sum.skipped;
      --to_run;
      finish("skipped", e.what(), 0);
      continue;
    }
    const auto run_t0 = SteadyClock::now();
    RepetitionStats reps;
    std::vector<nlohmann::json> records;
    std::string error;
    nlohmann::json diverged;  // the record of a repetition the watchdog stopped
    for (int rep = 1; rep <= spec.repetitions && error.empty(); ++rep) {
      SweepEvent start;
      start.kind = SweepEvent::Kind::start;
      start.index = number;
      start.total = to_run;
      start.run = &r;
      start.repetition = rep;
      start.repetitions = spec.repetitions;
      start.elapsed = seconds_since(t0);
      start.eta = done_runs > 0 ? run_seconds / done_runs * (to_run - done_runs) : -1;
      emit(start);
      const auto progress = [&](const Progress& p) {
        SweepEvent e = start;
        e.kind = SweepEvent::Kind::step;
        e.progress = &p;
        e.elapsed = seconds_since(t0);
        if (done_runs > 0 || seconds_since(run_t0) > 0) {
          const double within = p.epochs > 0 && p.steps > 0
                                    ? ((p.epoch - 1) + double(p.step) / double(p.steps)) / p.epochs
                                    : 0;
          const double frac = ((rep - 1) + within) / spec.repetitions;
          const double work = done_runs + frac;
          const double spent = run_seconds + seconds_since(run_t0);
          e.eta = work > 0.02 ? spent / work * (to_run - work) : -1;
        }
        emit(e);
      };
      try {
        const TrainResult result = train(r.cfg, data, progress);
        nlohmann::json rec = run_record(result, data);
        reps.images_per_second.push_back(rec["timing"].value("images_per_second", 0.0));
        const auto& step = rec["timing"]["step_ms"];
        reps.step_ms_median.push_back(step.is_object() ? step.value("median", 0.0) : 0.0);
        records.push_back(std::move(rec));
      } catch (const TrainingDiverged& e) {
        error = e.what();
        diverged = diverged_record(e, data);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    const double seconds = seconds_since(run_t0);
    run_seconds += seconds;
    ++done_runs;
    if (!diverged.is_null()) {
      diverged["sweep"] = sweep_fields(r, spec.name, nullptr, seconds);
      diverged["sweep"]["completed_repetitions"] = records.size();
      write(diverged);
      ++sum.diverged;
      finish("diverged", error, number);
      continue;
    }
    if (!error.empty()) {
      const ContextHealth health = opt.context_health(run_gpus(parallel));
      if (health.lost) error = fmt::format("CUDA context lost: {} (the run failed with: {})", health.error, error);
      nlohmann::json line = not_run_line(r, spec.name, "failed", error, seconds);
      if (!records.empty()) line["sweep"]["completed_repetitions"] = records.size();
      write(line);
      ++sum.failed;
      finish("failed", error, number);
      if (health.lost) {
        // Every later CUDA call in this process would fail: the remaining runs wait for a fresh process.
        sum.stopped = context_lost_message(r, number, health.error);
        sum.not_run = int(std::count(actions.begin() + std::ptrdiff_t(i) + 1, actions.end(), RunAction::run));
        break;
      }
      continue;
    }
    // The record kept is the repetition with the median throughput (the lower middle for an even count).
    std::vector<size_t> order(records.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return reps.images_per_second[a] < reps.images_per_second[b];
    });
    nlohmann::json line = std::move(records[order[(order.size() - 1) / 2]]);
    line["reason"] = nullptr;
    line["sweep"] = sweep_fields(r, spec.name, &reps, seconds);
    line["sweep"]["kept_repetition"] = order[(order.size() - 1) / 2] + 1;
    write(line);
    ++sum.ok;
    finish("ok",
           fmt::format("{:.1f} img/s{}, {:.1f}s", median(reps.images_per_second),
                       reps.images_per_second.size() > 1
                           ? fmt::format(" (cv {:.1f}% over {})", cv_percent(reps.images_per_second),
                                         reps.images_per_second.size())
                           : "",
                       seconds),
           number);
  }
  return sum;
}

}  // namespace cnnb
