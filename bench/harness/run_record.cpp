#include "bench/harness/run_record.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <cblas.h>
#include <fmt/format.h>
#include <zlib.h>

#include "backends/cuda_environment.h"
#include "bench/harness/option_fields.h"
#include "bench/harness/stats.h"
#include "bench/harness/throughput.h"
#include "core/clock.h"
#include "strategies/comm/process_group.h"

#if CNNB_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace cnnb {

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

std::string env_or_unset(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "(unset)";
}

nlohmann::json ms_stats(std::vector<double> seconds) {
  if (seconds.empty()) return nullptr;
  for (double& s : seconds) s *= 1e3;
  return {{"median", median(seconds)}, {"p10", percentile(seconds, 10)}, {"p90", percentile(seconds, 90)},
          {"min", *std::min_element(seconds.begin(), seconds.end())},
          {"max", *std::max_element(seconds.begin(), seconds.end())}};
}

}  // namespace

double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

nlohmann::json environment_json() {
  nlohmann::json env;
  struct utsname u{};
  ::uname(&u);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  env["cpu"] = cpu_model();
  env["logical_cores"] = std::thread::hardware_concurrency();
  env["os"] = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  env["hostname"] = host;
  env["compiler"] = fmt::format("g++ {}", __VERSION__);
  env["cnnbench_version"] = CNNB_VERSION;
  env["git_commit"] = CNNB_GIT_COMMIT;
#ifdef NDEBUG
  env["build_type"] = "release";
#else
  env["build_type"] = "debug";
#endif
  env["timestamp"] = utc_now();
  env["libraries"] = {{"openblas", openblas_get_config()},
                      {"mpi", mpi_library_version().empty() ? nlohmann::json(nullptr) : nlohmann::json(mpi_library_version())},
                      {"fmt", fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
                      {"zlib", zlibVersion()},
                      {"nlohmann_json", fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                                                    NLOHMANN_JSON_VERSION_PATCH)}};
#if CNNB_HAVE_ONEDNN
  const dnnl_version_t* dv = dnnl_version();
  env["libraries"]["onednn"] = fmt::format("{}.{}.{} ({})", dv->major, dv->minor, dv->patch, dv->hash);
#else
  env["libraries"]["onednn"] = nullptr;
#endif
  // These change which BLAS kernels run, so they belong with every timing.
  env["variables"] = {{"OPENBLAS_CORETYPE", env_or_unset("OPENBLAS_CORETYPE")},
                      {"OPENBLAS_L2_SIZE", env_or_unset("OPENBLAS_L2_SIZE")},
                      {"OPENBLAS_NUM_THREADS", env_or_unset("OPENBLAS_NUM_THREADS")},
                      {"OMP_NUM_THREADS", env_or_unset("OMP_NUM_THREADS")},
                      {"OMP_WAIT_POLICY", env_or_unset("OMP_WAIT_POLICY")}};
  // Also in a CPU-only build: its nulls and reason say that no GPU could have run.
  env["cuda"] = cuda_environment_json();
  return env;
}

nlohmann::json epoch_json(const EpochStats& e) {
  return {{"epoch", e.epoch},
          {"steps", e.steps},
          {"train_loss", e.train_loss},
          {"train_accuracy", e.train_accuracy},
          {"test_loss", e.test_loss},
          {"test_accuracy", e.test_accuracy},
          {"seconds", e.seconds},
          {"eval_seconds", e.eval_seconds},
          {"images_per_second", e.images_per_second},
          {"wall_seconds", e.wall_seconds}};
}

nlohmann::json run_record(const TrainResult& r, const Dataset& data) {
  const TrainConfig& c = r.config;
  nlohmann::json j;
  j["schema"] = kRunSchema;
  j["status"] = "ok";
  nlohmann::json kernels = nlohmann::json::object();
  for (const auto& [op, v] : c.kernels) kernels[op] = v;
  j["config"] = {{"model", c.model},
                 {"model_spec", r.model_spec},
                 {"dataset", data.name},
                 {"backend", c.backend},
                 {"kernel_overrides", kernels},
                 {"strategy", c.strategy},
                 {"devices", r.devices},
                 {"replicas", r.replicas},
                 {"processes", r.processes},
                 {"replicas_per_process", r.local_replicas},
                 {"comm", r.comm},
                 {"pipeline", pipeline_name(c.pipeline)},
                 {"prefetch_depth", c.prefetch_depth},
                 {"check_numerics", c.check_numerics},
                 {"threads", r.threads},
                 {"batch", c.batch},
                 {"epochs", c.epochs},
                 {"steps_per_epoch", r.epochs.empty() ? 0 : r.epochs.front().steps},
                 {"seed", c.seed},
                 {"warmup_steps", c.warmup_steps},
                 {"optimizer",
                  {{"kind", c.optimizer.kind == OptimizerConfig::Kind::sgd ? "sgd" : "adam"},
                   {"lr", c.optimizer.lr},
                   {"momentum", c.optimizer.momentum},
                   {"weight_decay", c.optimizer.weight_decay},
                   {"beta1", c.optimizer.beta1},
                   {"beta2", c.optimizer.beta2},
                   {"eps", c.optimizer.eps}}}};
  add_option_fields(j["config"], c.strategy, c.strategy_options);
  j["dataset"] = {{"name", data.name},
                  {"source", data.source},
                  {"shape", {data.shape.c, data.shape.h, data.shape.w}},
                  {"classes", data.classes},
                  {"train", data.train.count()},
                  {"test", data.test.count()}};
  j["model"] = {{"params", r.param_count}, {"forward_macs_per_image", r.forward_macs_per_image}, {"layers", r.layers}};
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [op, v] : r.ops) ops[op] = v;
  j["ops"] = ops;
  j["fallbacks"] = r.fallbacks;
  // Math modes are fixed on purpose so that GPU backends compute float32 like the CPU (no TF32).
  j["math"] = {{"cublas", "CUBLAS_DEFAULT_MATH (no TF32)"}, {"cudnn", "CUDNN_FMA_MATH (no TF32)"}};
  j["conv_algorithms"] = r.conv_algorithms;

  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : r.epochs) epochs.push_back(epoch_json(e));
  j["epochs"] = epochs;

  // Step statistics exclude the warm-up steps; with too few steps, all are kept (and the count says so).
  const size_t skip = r.steps.size() > size_t(c.warmup_steps) ? size_t(c.warmup_steps) : 0;
  std::vector<double> total, data_t, h2d, fwd, bwd, exch, upd, metrics, numerics;
  // Steps that exchanged (param-avg exchanges every k-th step only): their times and bandwidths.
  std::vector<double> exch_on, algbw, busbw, busy_on;
  double bytes = 0, exch_sum = 0, busy_sum = 0, busy_exposed = 0;
  const double n = r.replicas;
  for (size_t i = skip; i < r.steps.size(); ++i) {
    const StepTimes& s = r.steps[i];
    total.push_back(s.total());
    data_t.push_back(s.data);
    h2d.push_back(s.h2d);
    fwd.push_back(s.forward);
    bwd.push_back(s.backward);
    exch.push_back(s.exchange);
    upd.push_back(s.update);
    metrics.push_back(s.metrics);
    numerics.push_back(s.numerics);
    bytes += s.exchange_bytes;
    exch_sum += s.exchange;
    if (s.exchange_bytes > 0) {
      exch_on.push_back(s.exchange);
      // Overlapped with backward (allreduce's gradient buckets), the communicator works longer than the step
      // waits for it: bandwidth is over the time it worked.
      const double busy = std::max(s.exchange, s.exchange_busy);
      busy_on.push_back(busy);
      busy_sum += busy;
      busy_exposed += s.exchange;
      if (busy > 0) {
        algbw.push_back(s.exchange_bytes / busy / 1e9);
        busbw.push_back(algbw.back() * 2 * (n - 1) / n);
      }
    }
  }
  double measured = 0;
  for (double t : total) measured += t;
  const auto median_or_null = [](const std::vector<double>& v) -> nlohmann::json {
    return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(median(v));
  };
  // bytes: the size of the buffer each replica exchanges (nccl-tests' "size"); busbw = algbw * 2(N-1)/N.
  const nlohmann::json exchange = {
      // The path the bytes took: tower and param-avg stage through the host whatever the communicator.
      {"communicator", exchange_route(c.strategy, r.comm, r.processes)},
      {"busbw_basis", busbw_basis(c.strategy)},
      {"process_group", r.process_group},
      {"calls_per_exchange", r.exchange_calls},
      {"steps_with_exchange", exch_on.size()},
      {"bytes_per_step", total.empty() ? 0.0 : bytes / double(total.size())},
      {"bytes_per_exchange", r.exchange_calls > 0 ? double(r.param_count) * sizeof(float) : 0.0},
      {"exchange_ms", ms_stats(exch_on)},
      {"share_of_step", measured > 0 ? exch_sum / measured : 0.0},
      {"busy_ms", ms_stats(busy_on)},
      {"hidden_share", busy_sum > 0 ? 1.0 - busy_exposed / busy_sum : 0.0},
      {"algbw_gbps", median_or_null(algbw)},
      {"busbw_gbps", median_or_null(busbw)}};
  j["timing"] = {{"mode", timing_mode_name(c.timing)},
                 {"steps_measured", total.size()},
                 {"warmup_steps_excluded", skip},
                 {"step_ms", ms_stats(total)},
                 {"phases_ms",
                  {{"data", ms_stats(data_t)},
                   {"h2d", ms_stats(h2d)},
                   {"forward", ms_stats(fwd)},
                   {"backward", ms_stats(bwd)},
                   {"exchange", ms_stats(exch)},
                   {"update", ms_stats(upd)},
                   {"metrics", ms_stats(metrics)},
                   {"numerics", ms_stats(numerics)}}},
                 // --check-numerics' output scan, outside `forward`; null without the flag.
                 {"numerics_ms", c.check_numerics ? ms_stats(numerics) : nlohmann::json(nullptr)},
                 {"exchange", exchange},
                 {"images_per_second", images_per_second(std::int64_t(total.size()), c.batch, measured)},
                 {"train_seconds", r.train_seconds},
                 {"harness",
                  {{"loop_seconds", r.loop_seconds},
                   {"overhead_seconds", r.loop_seconds - r.loop_step_seconds},
                   {"overhead_share", r.loop_step_seconds > 0 ? (r.loop_seconds - r.loop_step_seconds) / r.loop_step_seconds
                                                             : 0.0}}}};
  if (!r.epochs.empty())
    j["final"] = {{"test_accuracy", r.epochs.back().test_accuracy},
                  {"test_loss", r.epochs.back().test_loss},
                  {"train_loss", r.epochs.back().train_loss}};
  j["peak_rss_mib"] = peak_rss_mib();
  // Planned once and reused every step, workspaces included.
  j["memory"] = {{"peak_host_rss_mib", j["peak_rss_mib"]}, {"replica_bytes", r.replica_memory}};
  // The driver's view of the GPU beside the itemised figure (null on CPU replicas).
  if (const auto& m = r.device_memory) {
    j["memory"]["device"] = {{"total_bytes", m->total},
                             {"used_bytes", m->used},
                             {"used_at_start_bytes", m->used_at_start},
                             {"used_delta_bytes", double(m->used) - double(m->used_at_start)}};
    j["memory"]["pinned_host_bytes"] = r.pinned_host_memory;
  } else {
    j["memory"]["device"] = nullptr;
    j["memory"]["pinned_host_bytes"] = nullptr;
  }
  j["environment"] = environment_json();
  return j;
}

}  // namespace cnnb
