#include "bench/harness/sweep.h"

#include <fcntl.h>
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
#include "core/clock.h"
#include "core/device.h"
#include "core/error.h"
#include "core/files.h"
#include "core/model_spec.h"
#include "reports/jsonl.h"
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

SweepHost SweepHost::detect(const std::vector<std::string>& backends) {
  SweepHost h;
  h.cores = int(std::max(1u, std::thread::hardware_concurrency()));
  // Only the sweep's own backends: a CPU sweep never loads the GPU module.
  const std::vector<std::string> known = backend_names();
  bool gpu = false;
  for (const auto& name : backends) {
    if (std::find(known.begin(), known.end(), name) == known.end()) continue;  // expand_sweep names it
    const BackendInfo b = backend_info(name);
    gpu = gpu || b.device != DeviceKind::cpu;
    if (!b.available)
      h.unavailable_backends[name] =
          fmt::format("{} ({})", b.in_build ? "is not available" : "is not in this build", b.unavailable_reason);
  }
  h.gpus = gpu ? cuda_device_count() : 0;
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
    r.skip_reason = fmt::format("backend {} {}", a.backend, it->second);
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

}  // namespace cnnb
