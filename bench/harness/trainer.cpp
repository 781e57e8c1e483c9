#include "bench/harness/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "bench/harness/checkpoint.h"
#include "bench/harness/throughput.h"
#include "bench/harness/watchdog.h"
#include "backends/cudnn/algorithms.h"
#include "backends/recipe.h"
#include "core/clock.h"
#include "core/device.h"
#include "core/error.h"
#include "core/files.h"
#include "model/network.h"
#include "core/safetensors.h"
#include "reports/tensorboard.h"
#include "strategies/comm/route.h"
#include "strategies/replica.h"

namespace cnnb {

#if CNNB_HAVE_CUDA
constexpr bool kCudaBuild = true;
#else
constexpr bool kCudaBuild = false;
#endif

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

// Runs the test set through the network in batches; returns {mean loss, accuracy}.
std::pair<double, double> evaluate(Network<float>& net, const Dataset& data, int64_t limit, std::vector<float>& x,
                                   std::vector<int32_t>& y) {
  const Split& test = data.test;
  const int64_t n_total = limit > 0 ? std::min(limit, test.count()) : test.count();
  std::vector<int64_t> idx(size_t(net.max_batch()));
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < n_total; start += net.max_batch()) {
    const int n = int(std::min<int64_t>(net.max_batch(), n_total - start));
    for (int i = 0; i < n; ++i) idx[size_t(i)] = start + i;
    build_batch(test, data.shape, std::span(idx.data(), size_t(n)), x.data(), y.data());
    net.device().upload(net.input(), x.data(), size_t(n) * size_t(data.shape.size()) * sizeof(float));
    net.device().upload(net.labels(), y.data(), size_t(n) * sizeof(int32_t));
    net.forward(n, true);
    loss_sum += net.mean_loss(n) * n;
    const std::vector<float> logits = net.logits(n);
    for (int i = 0; i < n; ++i) {
      const float* row = logits.data() + size_t(i) * size_t(data.classes);
      const int pred = int(std::max_element(row, row + data.classes) - row);
      correct += pred == y[size_t(i)];
    }
  }
  return {loss_sum / double(n_total), double(correct) / double(n_total)};
}

// Every local replica's parameters and optimizer state, for a checkpoint.
std::vector<ReplicaState> snapshot(ReplicaSet& rs) {
  std::vector<ReplicaState> out(size_t(rs.size()));
  rs.run_all([&](Replica& rep) {
    ReplicaState& st = out[size_t(rep.local_index())];
    st.params = rep.params();
    st.state0 = rep.optimizer().state(0).to_host();
    st.state1 = rep.optimizer().state(1).to_host();
    st.optimizer_steps = rep.optimizer().steps();
  });
  return out;
}

void restore(ReplicaSet& rs, const CheckpointState& c, const std::string& where) {
  if (int(c.replicas.size()) != rs.size())
    fail_input("{}: holds {} replicas, this run has {}", where, c.replicas.size(), rs.size());
  for (int i = 0; i < rs.size(); ++i) {
    const ReplicaState& st = c.replicas[size_t(i)];
    Optimizer<float>& opt = rs[i].optimizer();
    if (int64_t(st.params.size()) != rs.param_count() || st.state0.size() != opt.state(0).size() ||
        st.state1.size() != opt.state(1).size())
      fail_input("{}: replica {} holds {} parameters and optimizer state of {} + {} values; expected {}, {} and {}", where,
                 i, st.params.size(), st.state0.size(), st.state1.size(), rs.param_count(), opt.state(0).size(),
                 opt.state(1).size());
  }
  rs.run_all([&](Replica& rep) {
    const ReplicaState& st = c.replicas[size_t(rep.local_index())];
    rep.device().upload(rep.net().params(), st.params.data(), st.params.size() * sizeof(float));
    if (!st.state0.empty()) rep.optimizer().state(0).upload(st.state0);
    if (!st.state1.empty()) rep.optimizer().state(1).upload(st.state1);
    rep.optimizer().restore_steps(st.optimizer_steps);
    rep.device().synchronize();
  });
}

void upload_all(ReplicaSet& rs, const std::vector<float>& params) {
  rs.run_all([&](Replica& rep) {
    rep.device().upload(rep.net().params(), params.data(), params.size() * sizeof(float));
    rep.device().synchronize();
  });
}

// Mean of each phase over steps [first, end), in milliseconds, for TensorBoard.
std::vector<std::pair<std::string, float>> phase_means(const std::vector<StepTimes>& steps, size_t first) {
  StepTimes sum;
  for (size_t i = first; i < steps.size(); ++i) {
    const StepTimes& t = steps[i];
    sum.data += t.data, sum.h2d += t.h2d, sum.forward += t.forward, sum.backward += t.backward;
    sum.exchange += t.exchange, sum.update += t.update, sum.metrics += t.metrics, sum.numerics += t.numerics;
  }
  const double k = steps.size() > first ? 1e3 / double(steps.size() - first) : 0;
  return {{"time_ms/data", float(sum.data * k)},         {"time_ms/h2d", float(sum.h2d * k)},
          {"time_ms/forward", float(sum.forward * k)},   {"time_ms/backward", float(sum.backward * k)},
          {"time_ms/exchange", float(sum.exchange * k)}, {"time_ms/update", float(sum.update * k)},
          {"time_ms/metrics", float(sum.metrics * k)},   {"time_ms/numerics", float(sum.numerics * k)},
          {"time_ms/step", float(sum.total() * k)}};
}

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
  parse_pipeline(cfg.pipeline, "--pipeline");
  if (cfg.prefetch_depth < 1) fail_input("--prefetch-depth must be a positive integer, got {}", cfg.prefetch_depth);
  check_strategy_name(cfg.strategy);
  if (cfg.comm != "auto") parse_comm(cfg.comm);
  if (cfg.sync_every < 1) fail_input("--sync-every must be a positive integer, got {}", cfg.sync_every);
  if (!(cfg.bucket_mb >= 0) || !std::isfinite(cfg.bucket_mb))
    fail_input("--buckets must be a size in MiB >= 0 (0 = one call), got {}", cfg.bucket_mb);
  if (!(cfg.comm_timeout > 0) || !std::isfinite(cfg.comm_timeout))
    fail_input("--comm-timeout must be a positive number of seconds, got {}", cfg.comm_timeout);
  if (cfg.checkpoint_every < 0) fail_input("--checkpoint-every must be 0 (none) or positive, got {}", cfg.checkpoint_every);
  if (cfg.checkpoint_every > 0 && cfg.checkpoint_dir.empty())
    fail_input("--checkpoint-every {} needs --checkpoint-dir DIR", cfg.checkpoint_every);
  if (cfg.checkpoint_every == 0 && !cfg.checkpoint_dir.empty())
    fail_input("--checkpoint-dir {} needs --checkpoint-every N (steps between checkpoints)", cfg.checkpoint_dir);
  const bool checkpoints = cfg.checkpoint_every > 0 || !cfg.resume.empty();
  // tower keeps the master parameters and the optimizer inside the strategy, out of a checkpoint's reach.
  if (checkpoints && cfg.strategy == "tower")
    fail_input("--checkpoint-every/--resume are not supported with --strategy tower (its master parameters and "
               "optimizer live in the strategy); use allreduce, which computes the same updates");
  // param-avg counts steps to its next average: a checkpoint right after an average restarts that count exactly.
  if (cfg.checkpoint_every > 0 && cfg.strategy == "param-avg" && cfg.checkpoint_every % cfg.sync_every != 0)
    fail_input("--checkpoint-every {} must be a multiple of --sync-every {} with --strategy param-avg",
               cfg.checkpoint_every, cfg.sync_every);
  if (!cfg.init_weights.empty() && !cfg.resume.empty())
    fail_input("--init and --resume both set the parameters: give one of them");
}

std::unique_ptr<ProcessGroup> open_process_group(const TrainConfig& cfg) {
  if (cfg.comm == "mpi" || launched_by_mpi()) {
#if !CNNB_HAVE_MPI
    if (cfg.comm != "mpi" && launcher_world_size() > 1)
      fail_input("mpirun started {} processes, but this cnnbench was built without MPI (install libopenmpi-dev and "
                 "re-run cmake)", launcher_world_size());
    if (cfg.comm != "mpi") return make_single_process_group();
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
    fail_input("backend {} needs a CUDA device; none found{}", cfg.backend,
               kCudaBuild ? "" : " (and this cnnbench was built without CUDA)");
  p.devices = parse_devices(cfg.devices, kind, pg.local_rank());
  p.options = {cfg.sync_every, cfg.bucket_mb};
  const auto strategy = make_strategy(cfg.strategy, p.options);
  p.world = pg.size() * p.devices.count();
  const std::string where = pg.size() == 1 ? fmt::format("--devices {}", p.devices.str())
                                           : fmt::format("--devices {} in each of {} processes", p.devices.str(), pg.size());
  if (!strategy->multi_replica() && p.world > 1)
    fail_input("strategy {} runs one replica, but {} gives {}; use --strategy allreduce, tower, param-avg or independent",
               cfg.strategy, where, p.world);
  if (cfg.batch % p.world != 0)
    fail_input("--batch {} does not split evenly over the {} replicas of {}: use a multiple of {}", cfg.batch, p.world,
               where, p.world);
  if (cfg.comm == "auto") {
    p.comm = auto_comm(strategy_info(cfg.strategy).exchange, p.devices, pg.size());
  } else {
    p.comm = parse_comm(cfg.comm);
  }
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

TrainResult train(const TrainConfig& cfg, const Dataset& data, const ProgressFn& progress_fn, ProcessGroup& pg) {
  const ParallelPlan pp = plan_parallel(cfg, pg);
  const ModelPlan plan = plan_model(parse_model(cfg.model), data.shape, data.classes);
  const OpSet<float> ops = resolve_backend(cfg.backend, cfg.kernels);
  if (data.train.count() < cfg.batch)
    fail_input("--batch {} is larger than the training set of {} ({} images)", cfg.batch, data.name, data.train.count());
  const ProgressFn progress = pg.root() ? progress_fn : nullptr;
  const bool checkpoints = cfg.checkpoint_every > 0 || !cfg.resume.empty();
  if (checkpoints && pg.size() > 1)
    fail_input("--checkpoint-every/--resume work within one process; mpirun started {}", pg.size());
  if (pg.root() && !cfg.save_weights.empty()) check_writable(cfg.save_weights, "--save");
  std::vector<float> init;
  if (!cfg.init_weights.empty()) init = load_weights(cfg.init_weights, plan);

  TrainResult r;
  r.config = cfg;
  r.model_spec = plan.spec.str();
  r.param_count = plan.param_count;
  r.forward_macs_per_image = plan.forward_macs();
  for (const auto& l : plan.layers)
    r.layers.push_back(fmt::format("{} {} {} -> {}", l.name, l.spec.str(), l.in.str(), l.out.str()));
  for (int i = 0; i < kOpCount; ++i) r.ops.emplace_back(op_name(Op(i)), ops.chosen[size_t(i)]);
  r.fallbacks = ops.fallbacks;
  r.threads = pp.threads;
  r.devices = pp.devices.str();
  r.replicas = pp.world;
  r.local_replicas = pp.devices.count();
  r.processes = pg.size();
  r.rank = pg.rank();
  r.process_group = pg.name();

  ReplicaSet rs(ReplicaSetup{plan, ops, cfg.optimizer, pp.devices, pp.threads, cfg.batch / pp.world,
                             pg.rank() * pp.devices.count(), cfg.seed, parse_pipeline(cfg.pipeline),
                             cfg.prefetch_depth, cfg.timing});
  if (!init.empty()) upload_all(rs, init);
  const auto comm = make_communicator(pp.comm, pg, rs.devices(), CommOptions{cfg.comm_timeout});
  const auto strategy = make_strategy(cfg.strategy, pp.options);
  strategy->setup(rs, *comm);
  r.comm = std::string(comm->name());
  r.exchange_calls = strategy->exchange_calls();

  const int64_t full_steps = data.train.count() / cfg.batch;
  const int64_t steps = cfg.steps_per_epoch > 0 ? std::min(cfg.steps_per_epoch, full_steps) : full_steps;
  r.steps.reserve(size_t(steps) * size_t(cfg.epochs));  // the step loop appends without reallocating

  nlohmann::json fingerprint;
  CheckpointState start;
  if (checkpoints) fingerprint = checkpoint_fingerprint(cfg, plan, data, steps, pp.world);
  if (!cfg.resume.empty()) {
    std::filesystem::path used;
    start = read_checkpoint(cfg.resume, fingerprint, &used);
    restore(rs, start, used.string());
    r.resumed_from = used.string();
    r.resumed_at_step = start.global_step;
    r.epochs = start.finished;
    r.train_seconds = start.train_seconds;
  }
  std::optional<EventWriter> tb;
  if (pg.root() && !cfg.tensorboard_dir.empty()) {
    tb.emplace(cfg.tensorboard_dir, cfg.run_name.empty() ? default_run_name(cfg) : cfg.run_name);
    r.tensorboard_file = tb->file().string();
  }
  int64_t global_step = start.global_step;
  Watchdog watchdog(rs, cfg.check_numerics);
  const auto t_start = SteadyClock::now();

  for (int epoch = start.epoch; epoch <= cfg.epochs; ++epoch) {
    const bool resumed = !cfg.resume.empty() && epoch == start.epoch;
    const std::vector<int64_t> order = epoch_permutation(data.train.count(), cfg.seed, epoch);
    EpochStats es;
    es.epoch = epoch;
    es.steps = steps;
    double loss_sum = resumed ? start.loss_sum : 0;  // sum over steps of this process's mean loss
    int64_t correct = resumed ? start.correct : 0, images = resumed ? start.images : 0;
    double epoch_seconds = resumed ? start.epoch_seconds : 0;
    const size_t first_step = r.steps.size();
    auto last_report = SteadyClock::now() - std::chrono::seconds(1);
    rs.begin_epoch(data.train, data.shape, order, cfg.batch, resumed ? start.steps_done : 0, steps);
    const auto loop_start = SteadyClock::now();
    for (int64_t s = resumed ? start.steps_done : 0; s < steps; ++s) {
      StepTimes st;
      const GlobalBatch batch{data.train, data.shape, std::span(order.data() + s * cfg.batch, size_t(cfg.batch))};
      watchdog.arm();
      const ShardStats ss = strategy->step(rs, *comm, batch, st);
      r.steps.push_back(st);
      epoch_seconds += st.total();
      r.loop_step_seconds += st.total();
      loss_sum += ss.loss_sum / double(ss.images);
      correct += ss.correct;
      images += ss.images;
      // Every process stops at the same step (a collective under MPI), so none is left waiting in an exchange.
      if (const std::string bad = Watchdog::agree(pg, watchdog.check(ss.loss_sum / double(ss.images))); !bad.empty())
        throw TrainingDiverged(fmt::format("training diverged at step {} (epoch {}, step {} of {}): {}; try a smaller --lr",
                                           global_step + 1, epoch, s + 1, steps, bad),
                               epoch, s + 1, global_step + 1, r);
      ++global_step;
      if (tb) tb->scalar(global_step, "train/step_loss", float(ss.loss_sum / double(ss.images)));
      if (cfg.checkpoint_every > 0 && global_step % cfg.checkpoint_every == 0) {
        CheckpointState c;
        c.epoch = epoch;
        c.steps_done = s + 1;
        c.global_step = global_step;
        c.loss_sum = loss_sum;
        c.epoch_seconds = epoch_seconds;
        c.correct = correct;
        c.images = images;
        c.train_seconds = r.train_seconds;
        c.finished = r.epochs;
        c.replicas = snapshot(rs);
        r.checkpoints.push_back(write_checkpoint(cfg.checkpoint_dir, c, fingerprint).string());
      }
      if (progress && (seconds_since(last_report) >= 0.25 || s + 1 == steps)) {
        last_report = SteadyClock::now();
        Progress p;
        p.epoch = epoch;
        p.epochs = cfg.epochs;
        p.step = s + 1;
        p.steps = steps;
        p.loss = loss_sum / double(s + 1);
        p.accuracy = double(correct) / double(images);
        p.elapsed = epoch_seconds;
        p.images_per_second = images_per_second(s + 1, cfg.batch, epoch_seconds);
        p.eta = epoch_seconds / double(s + 1) * double(steps - s - 1);
        progress(p);
      }
    }
    r.loop_seconds += seconds_since(loop_start);
    rs.end_epoch();
    // Every process saw its own shards: the epoch's numbers are the sums over processes.
    double totals[3] = {loss_sum, double(correct), double(images)};
    pg.allreduce_sum(std::span(totals));
    take_slowest_rank(pg, r.steps, first_step);
    if (pg.size() > 1) epoch_seconds = step_seconds(r.steps, first_step);
    es.train_loss = totals[0] / double(steps * pg.size());
    es.train_accuracy = totals[1] / totals[2];
    es.seconds = epoch_seconds;
    es.images_per_second = images_per_second(steps, cfg.batch, epoch_seconds);
    if (progress) {
      Progress p;
      p.epoch = epoch;
      p.epochs = cfg.epochs;
      p.evaluating = true;
      progress(p);
    }
    const auto t_eval = SteadyClock::now();
    // Every process evaluates its replica 0 (the same model unless the strategy is independent); rank 0 reports.
    strategy->settle(rs, *comm);
    rs.run_on(0, [&](Replica& rep) {
      std::tie(es.test_loss, es.test_accuracy) = evaluate(rep.net(), data, cfg.test_limit, rep.x, rep.y);
    });
    pg.barrier();  // so that no rank's evaluation lands in another rank's next exchange
    es.eval_seconds = seconds_since(t_eval);
    es.wall_seconds = seconds_since(t_start);
    r.train_seconds += epoch_seconds;
    r.epochs.push_back(es);
    if (tb) {
      std::vector<std::pair<std::string, float>> v = {{"train/loss", float(es.train_loss)},
                                                      {"train/accuracy", float(es.train_accuracy)},
                                                      {"test/loss", float(es.test_loss)},
                                                      {"test/accuracy", float(es.test_accuracy)},
                                                      {"learning_rate", float(cfg.optimizer.lr)},
                                                      {"images_per_second", float(es.images_per_second)}};
      for (auto& p : phase_means(r.steps, first_step)) v.push_back(std::move(p));
      tb->scalars(global_step, v);
    }
  }
  // What cuDNN chose, per convolution geometry, of the first local replica (empty off cuDNN).
  r.conv_algorithms = cudnn::chosen_algorithms(rs.devices().front()->ctx());
  rs.run_on(0, [&](Replica& rep) {
    const auto m = rep.net().memory();
    r.replica_memory = {{"parameters", double(m.parameters)},
                        {"gradients", double(m.gradients)},
                        {"optimizer_state", double(rep.optimizer().state_bytes())},
                        {"activations", double(m.activations)},
                        {"batch_buffers", double(m.batch + (rep.loader() ? rep.loader()->device_bytes() : 0))},
                        {"workspace", double(rep.device().workspace_bytes())}};
    double total = 0;
    for (const auto& [k, v] : r.replica_memory) total += v;
    r.replica_memory["total"] = total;
    r.device_memory = rep.device().memory_use();
    if (r.device_memory) {
      // The loader's slots hold as much host memory as device memory; the strategy's is the rest (tower's
      // master parameters, param-avg's staging).
      const double staging = double(rep.loader() ? rep.loader()->device_bytes() : 0);
      const double outputs = double(rep.output_host_bytes());
      const double all = double(r.device_memory->pinned_host);
      r.pinned_host_memory = {{"batch_staging", staging},
                              {"step_outputs", outputs},
                              {"strategy", std::max(0.0, all - staging - outputs)},
                              {"total", all}};
    }
  });
  if (!cfg.save_weights.empty()) {
    std::vector<float> params;
    rs.run_on(0, [&](Replica& rep) { params = rep.params(); });
    if (pg.root())
      save_weights(cfg.save_weights, plan, params,
                   {{"format", "pt"}, {"cnnbench.model_spec", plan.spec.str()}, {"cnnbench.input", plan.input.str()}});
  }
  return r;
}

}  // namespace cnnb
