#include "bench/harness/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <thread>

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "bench/harness/evaluation.h"
#include "bench/harness/observers.h"
#include "bench/harness/run.h"
#include "backends/cuda_environment.h"
#include "backends/recipe.h"
#include "core/clock.h"
#include "core/device.h"
#include "core/error.h"
#include "core/files.h"
#include "core/safetensors.h"
#include "strategies/comm/route.h"
#include "strategies/replica.h"

namespace cnnb {

namespace {

int cores() { return int(std::max(1u, std::thread::hardware_concurrency())); }

#if !CNNB_HAVE_MPI
// Processes mpirun started, read from the launcher's environment: what a build without MPI can know.
int launcher_world_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* s = std::getenv(v)) return std::max(1, std::atoi(s));
  return 1;
}
#endif

}  // namespace

std::string default_run_name(const TrainConfig& cfg) {
  return sanitize_run_name(fmt::format("{}-{}-{}-r{}-b{}-{}-lr{}-s{}", cfg.model, cfg.backend, cfg.strategy,
                                       cfg.devices.empty() ? "1" : cfg.devices, cfg.batch,
                                       cfg.optimizer.kind == OptimizerConfig::Kind::sgd ? "sgd" : "adam",
                                       cfg.optimizer.lr, cfg.seed));
}

EvalResult evaluate_weights(const EvalConfig& cfg, const Dataset& data) {
  if (cfg.batch <= 0) fail_input("--batch must be a positive integer, got {}", cfg.batch);
  if (cfg.threads < 0) fail_input("--threads must be 0 (all cores) or positive, got {}", cfg.threads);
  if (cfg.test_limit < 0) fail_input("--test-limit must be >= 0, got {}", cfg.test_limit);
  const ModelPlan plan = plan_model(parse_model(cfg.model), data.shape, data.classes);
  const std::vector<float> weights = load_weights(cfg.weights, plan);
  const OpSet<float> ops = resolve_backend(cfg.backend, cfg.kernels);
  const DeviceKind kind = backend_device(cfg.backend);
  const int threads = backend_recipe(cfg.backend).single_threaded ? 1
                      : cfg.threads > 0                            ? cfg.threads
                      : kind == DeviceKind::cpu                    ? cores()
                                                                   : 1;
  OptimizerConfig sgd;
  sgd.kind = OptimizerConfig::Kind::sgd;  // unused; the smallest state
  ReplicaSet rs(ReplicaSetup{plan, ops, sgd, parse_devices("", kind, 0), threads, cfg.batch, 0, 0});
  upload_all(rs, weights);
  EvalResult r;
  r.model_spec = plan.spec.str();
  r.images = cfg.test_limit > 0 ? std::min(cfg.test_limit, data.test.count()) : data.test.count();
  const auto t0 = SteadyClock::now();
  rs.run_on(0, [&](Replica& rep) { std::tie(r.loss, r.accuracy) = evaluate(rep.net(), data, cfg.test_limit, rep.x, rep.y); });
  r.seconds = seconds_since(t0);
  return r;
}

void validate(const TrainConfig& cfg) {
  if (cfg.batch <= 0) fail_input("--batch must be a positive integer, got {}", cfg.batch);
  if (cfg.epochs <= 0) fail_input("--epochs must be a positive integer, got {}", cfg.epochs);
  if (cfg.steps_per_epoch < 0) fail_input("--steps must be 0 (a full epoch) or positive, got {}", cfg.steps_per_epoch);
  if (!(cfg.optimizer.lr > 0) || !std::isfinite(cfg.optimizer.lr))
    fail_input("--lr must be a positive number, got {}", cfg.optimizer.lr);
  if (!(cfg.optimizer.momentum >= 0 && cfg.optimizer.momentum < 1))
    fail_input("--momentum must be in [0, 1), got {}", cfg.optimizer.momentum);
  if (!(cfg.optimizer.weight_decay >= 0)) fail_input("--weight-decay must be >= 0, got {}", cfg.optimizer.weight_decay);
  if (cfg.threads < 0) fail_input("--threads must be 0 (all cores) or positive, got {}", cfg.threads);
  if (cfg.warmup_steps < 0) fail_input("--warmup must be >= 0, got {}", cfg.warmup_steps);
  if (cfg.test_limit < 0) fail_input("--test-limit must be >= 0, got {}", cfg.test_limit);
  if (cfg.prefetch_depth < 1) fail_input("--prefetch-depth must be a positive integer, got {}", cfg.prefetch_depth);
  check_strategy_name(cfg.strategy);
  if (cfg.comm) require_comm_built(*cfg.comm);
  check_strategy_options(cfg.strategy, cfg.strategy_options, [](const OptionSpec& o) { return std::string(o.flag); });
  if (!(cfg.comm_timeout > 0) || !std::isfinite(cfg.comm_timeout))
    fail_input("--comm-timeout must be a positive number of seconds, got {}", cfg.comm_timeout);
  if (cfg.checkpoint_every < 0) fail_input("--checkpoint-every must be 0 (none) or positive, got {}", cfg.checkpoint_every);
  if (cfg.checkpoint_every > 0 && cfg.checkpoint_dir.empty())
    fail_input("--checkpoint-every {} needs --checkpoint-dir DIR", cfg.checkpoint_every);
  if (cfg.checkpoint_every == 0 && !cfg.checkpoint_dir.empty())
    fail_input("--checkpoint-dir {} needs --checkpoint-every N (steps between checkpoints)", cfg.checkpoint_dir);
  const bool checkpoints = cfg.checkpoint_every > 0 || !cfg.resume.empty();
  const CheckpointRule rule = make_strategy(cfg.strategy, cfg.strategy_options)->checkpoint_rule();
  if (checkpoints && !rule.refusal.empty())
    fail_input("--checkpoint-every/--resume are not supported with --strategy {} ({}); {}", cfg.strategy, rule.refusal,
               rule.instead);
  if (cfg.checkpoint_every > 0 && cfg.checkpoint_every % rule.multiple_of != 0)
    fail_input("--checkpoint-every {} must be a multiple of {} {} with --strategy {}", cfg.checkpoint_every,
               rule.multiple_option ? rule.multiple_option->flag : "", rule.multiple_of, cfg.strategy);
  if (!cfg.init_weights.empty() && !cfg.resume.empty())
    fail_input("--init and --resume both set the parameters: give one of them");
}

std::unique_ptr<ProcessGroup> open_process_group(const TrainConfig& cfg) {
  const bool mpi_asked = cfg.comm == CommKind::mpi;
  if (mpi_asked || launched_by_mpi()) {
#if !CNNB_HAVE_MPI
    if (!mpi_asked && launcher_world_size() > 1)
      fail_input("mpirun started {} processes, but this cnnbench was built without MPI (install libopenmpi-dev and "
                 "re-run cmake)", launcher_world_size());
    if (!mpi_asked) return make_single_process_group();
#endif
    return make_mpi_process_group(cfg.comm_timeout);
  }
  return make_single_process_group();
}

ParallelPlan plan_parallel(const TrainConfig& cfg, const ProcessGroup& pg) {
  validate(cfg);
  ParallelPlan p;
  const DeviceKind kind = backend_device(cfg.backend);
  if (kind == DeviceKind::cuda && cuda_device_count() == 0)
    fail_input("backend {} needs a CUDA device; none is usable: {}", cfg.backend, cuda::cuda_environment().error);
  p.devices = parse_devices(cfg.devices, kind, pg.local_rank());
  const auto strategy = make_strategy(cfg.strategy, cfg.strategy_options);
  p.world = pg.size() * p.devices.count();
  const std::string where = pg.size() == 1 ? fmt::format("--devices {}", p.devices.str())
                                           : fmt::format("--devices {} in each of {} processes", p.devices.str(), pg.size());
  if (!strategy->multi_replica() && p.world > 1)
    fail_input("strategy {} runs one replica, but {} gives {}; use --strategy allreduce, tower, param-avg or independent",
               cfg.strategy, where, p.world);
  if (cfg.batch % p.world != 0)
    fail_input("--batch {} does not split evenly over the {} replicas of {}: use a multiple of {}", cfg.batch, p.world,
               where, p.world);
  p.comm = cfg.comm ? *cfg.comm : auto_comm(strategy_info(cfg.strategy).exchange, p.devices, pg.size());
  if (p.comm == CommKind::nccl && kind != DeviceKind::cuda)
    fail_input("--comm nccl exchanges between GPUs, but backend {} runs on the CPU", cfg.backend);
  if (p.comm == CommKind::nccl) {
    if (const std::string why = nccl_misfit(strategy_info(cfg.strategy).exchange, p.devices); !why.empty())
      fail_input("--comm nccl cannot carry strategy {}'s exchange: {}; use --comm auto", cfg.strategy, why);
  }
  if (p.comm == CommKind::threads && pg.size() > 1)
    fail_input("--comm threads connects the replicas of one process, but mpirun started {} processes: use --comm mpi",
               pg.size());
  if (backend_recipe(cfg.backend).single_threaded)
    p.threads = 1;
  else if (cfg.threads > 0)
    p.threads = cfg.threads;
  else
    p.threads = kind == DeviceKind::cpu ? std::max(1, cores() / (pg.local_size() * p.devices.count())) : 1;
  return p;
}

TrainResult train(const TrainConfig& cfg, const Dataset& data, const ProgressFn& progress) {
  const auto pg = open_process_group(cfg);
  return train(cfg, data, progress, *pg);
}

TrainResult train(const TrainConfig& cfg, const Dataset& data, const ProgressFn& progress, ProcessGroup& pg) {
  Run run(cfg, data, pg);
  // The watchdog first: a diverged step stops the run before it is checkpointed or reported.
  WatchdogObserver watchdog(run.replicas(), pg, cfg.check_numerics);
  run.observe(watchdog);
  std::optional<TensorBoardObserver> tb;
  if (pg.root() && !cfg.tensorboard_dir.empty())
    run.observe(tb.emplace(cfg.tensorboard_dir, cfg.run_name.empty() ? default_run_name(cfg) : cfg.run_name));
  std::optional<CheckpointObserver> checkpoints;
  if (cfg.checkpoint_every > 0)
    run.observe(checkpoints.emplace(cfg.checkpoint_dir, cfg.checkpoint_every, run.checkpoint_fingerprint()));
  std::optional<ProgressObserver> progress_observer;
  if (pg.root() && progress) run.observe(progress_observer.emplace(progress, cfg.epochs, cfg.batch));
  TrainResult r = run.run();
  if (checkpoints) r.checkpoints = checkpoints->written();
  if (tb) r.tensorboard_file = tb->file().string();
  return r;
}

}  // namespace cnnb
