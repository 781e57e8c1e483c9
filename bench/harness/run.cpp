#include "bench/harness/run.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "backends/gpu_backends.h"
#include "bench/harness/evaluation.h"
#include "bench/harness/throughput.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/safetensors.h"
#include "model/network.h"

namespace cnnb {

namespace {

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

}  // namespace

Run::Run(const TrainConfig& cfg, const Dataset& data, ProcessGroup& pg)
    : cfg_(cfg),
      data_(data),
      pg_(pg),
      pp_(plan_parallel(cfg, pg)),
      plan_(plan_model(parse_model(cfg.model), data.shape, data.classes)),
      ops_(resolve_backend(cfg.backend, cfg.kernels)) {
  if (data.train.count() < cfg.batch)
    fail_input("--batch {} is larger than the training set of {} ({} images)", cfg.batch, data.name, data.train.count());
  const bool checkpoints = cfg.checkpoint_every > 0 || !cfg.resume.empty();
  if (checkpoints && pg.size() > 1)
    fail_input("--checkpoint-every/--resume work within one process; mpirun started {}", pg.size());
  if (pg.root() && !cfg.save_weights.empty()) check_writable(cfg.save_weights, "--save");
  std::vector<float> init;
  if (!cfg.init_weights.empty()) init = load_weights(cfg.init_weights, plan_);

  r_.config = cfg;
  r_.model_spec = plan_.spec.str();
  r_.param_count = plan_.param_count;
  r_.forward_macs_per_image = plan_.forward_macs();
  for (const auto& l : plan_.layers)
    r_.layers.push_back(fmt::format("{} {} {} -> {}", l.name, l.spec.str(), l.in.str(), l.out.str()));
  for (int i = 0; i < kOpCount; ++i) r_.ops.emplace_back(op_name(Op(i)), ops_.chosen[size_t(i)]);
  r_.fallbacks = ops_.fallbacks;
  r_.threads = pp_.threads;
  r_.devices = pp_.devices.str();
  r_.replicas = pp_.world;
  r_.local_replicas = pp_.devices.count();
  r_.processes = pg.size();
  r_.rank = pg.rank();
  r_.process_group = pg.name();

  rs_ = std::make_unique<ReplicaSet>(ReplicaSetup{plan_, ops_, cfg.optimizer, pp_.devices, pp_.threads,
                                                  cfg.batch / pp_.world, pg.rank() * pp_.devices.count(), cfg.seed,
                                                  cfg.pipeline, cfg.prefetch_depth, cfg.timing});
  if (!init.empty()) upload_all(*rs_, init);
  comm_ = make_communicator(pp_.comm, pg, rs_->devices(), CommOptions{cfg.comm_timeout});
  strategy_ = make_strategy(cfg.strategy, cfg.strategy_options);
  strategy_->setup(*rs_, *comm_);
  r_.comm = std::string(comm_->name());
  r_.exchange_calls = strategy_->exchange_calls();

  const int64_t full_steps = data.train.count() / cfg.batch;
  steps_ = cfg.steps_per_epoch > 0 ? std::min(cfg.steps_per_epoch, full_steps) : full_steps;
  r_.steps.reserve(size_t(steps_) * size_t(cfg.epochs));  // the step loop appends without reallocating
  if (!cfg.resume.empty()) resume();
}

Run::~Run() = default;

nlohmann::json Run::checkpoint_fingerprint() const {
  return cnnb::checkpoint_fingerprint(cfg_, plan_, data_, steps_, pp_.world);
}

void Run::resume() {
  std::filesystem::path used;
  start_ = read_checkpoint(cfg_.resume, checkpoint_fingerprint(), &used);
  restore(*rs_, start_, used.string());
  r_.resumed_from = used.string();
  r_.resumed_at_step = start_.global_step;
  r_.epochs = start_.finished;
  r_.train_seconds = start_.train_seconds;
  global_step_ = start_.global_step;
}

TrainResult Run::run() {
  start_time_ = SteadyClock::now();
  for (int epoch = start_.epoch; epoch <= cfg_.epochs; ++epoch) run_epoch(epoch);
  record_memory();
  save_weights_if_asked();
  return std::move(r_);
}

void Run::run_epoch(int epoch) {
  const bool resumed = !cfg_.resume.empty() && epoch == start_.epoch;
  const std::vector<int64_t> order = epoch_permutation(data_.train.count(), cfg_.seed, epoch);
  EpochTally tally;
  if (resumed) tally = {start_.loss_sum, start_.correct, start_.images, start_.epoch_seconds};
  const int64_t first = resumed ? start_.steps_done : 0;
  const size_t first_step = r_.steps.size();
  rs_->begin_epoch(data_.train, data_.shape, order, cfg_.batch, first, steps_);
  const auto loop_start = SteadyClock::now();
  for (int64_t s = first; s < steps_; ++s) {
    StepTimes st;
    const GlobalBatch batch{data_.train, data_.shape, std::span(order.data() + s * cfg_.batch, size_t(cfg_.batch))};
    for (RunObserver* o : observers_) o->before_step();
    const ShardStats ss = strategy_->step(*rs_, *comm_, batch, st);
    r_.steps.push_back(st);
    tally.seconds += st.total();
    r_.loop_step_seconds += st.total();
    tally.loss_sum += ss.loss_sum / double(ss.images);
    tally.correct += ss.correct;
    tally.images += ss.images;
    ++global_step_;
    const StepEvent ev{epoch, s + 1, steps_, global_step_, ss, st, tally, r_, *rs_};
    for (RunObserver* o : observers_) o->after_step(ev);
  }
  r_.loop_seconds += seconds_since(loop_start);
  rs_->end_epoch();
  EpochStats es = close_epoch(epoch, tally, first_step);
  r_.train_seconds += es.seconds;
  r_.epochs.push_back(es);
  const EpochEvent ev{r_.epochs.back(), global_step_, std::span(r_.steps).subspan(first_step), cfg_};
  for (RunObserver* o : observers_) o->after_epoch(ev);
}

// The epoch's numbers over every process, then its evaluation.
EpochStats Run::close_epoch(int epoch, const EpochTally& tally, size_t first_step) {
  EpochStats es;
  es.epoch = epoch;
  es.steps = steps_;
  double totals[3] = {tally.loss_sum, double(tally.correct), double(tally.images)};
  pg_.allreduce_sum(std::span(totals));
  take_slowest_rank(pg_, r_.steps, first_step);
  es.seconds = pg_.size() > 1 ? step_seconds(r_.steps, first_step) : tally.seconds;
  es.train_loss = totals[0] / double(steps_ * pg_.size());
  es.train_accuracy = totals[1] / totals[2];
  es.images_per_second = images_per_second(steps_, cfg_.batch, es.seconds);
  for (RunObserver* o : observers_) o->before_evaluation(epoch);
  const auto t_eval = SteadyClock::now();
  // Every process evaluates its replica 0 (the same model unless the strategy is independent); rank 0 reports.
  strategy_->settle(*rs_, *comm_);
  rs_->run_on(0, [&](Replica& rep) {
    std::tie(es.test_loss, es.test_accuracy) = evaluate(rep.net(), data_, cfg_.test_limit, rep.x, rep.y);
  });
  pg_.barrier();  // so that no rank's evaluation lands in another rank's next exchange
  es.eval_seconds = seconds_since(t_eval);
  es.wall_seconds = seconds_since(start_time_);
  return es;
}

void Run::record_memory() {
  // What cuDNN chose, per convolution geometry, of the first local replica (empty off cuDNN).
  r_.conv_algorithms = conv_algorithms(rs_->devices().front()->ctx());
  rs_->run_on(0, [&](Replica& rep) {
    const auto m = rep.net().memory();
    r_.replica_memory = {{"parameters", double(m.parameters)},
                         {"gradients", double(m.gradients)},
                         {"optimizer_state", double(rep.optimizer().state_bytes())},
                         {"activations", double(m.activations)},
                         {"batch_buffers", double(m.batch + (rep.loader() ? rep.loader()->device_bytes() : 0))},
                         {"workspace", double(rep.device().workspace_bytes())}};
    double total = 0;
    for (const auto& [k, v] : r_.replica_memory) total += v;
    r_.replica_memory["total"] = total;
    r_.device_memory = rep.device().memory_use();
    if (r_.device_memory) {
      // The loader's slots hold as much host memory as device memory; the strategy's is the rest (tower's
      // master parameters, param-avg's staging).
      const double staging = double(rep.loader() ? rep.loader()->device_bytes() : 0);
      const double outputs = double(rep.output_host_bytes());
      const double all = double(r_.device_memory->pinned_host);
      r_.pinned_host_memory = {{"batch_staging", staging},
                               {"step_outputs", outputs},
                               {"strategy", std::max(0.0, all - staging - outputs)},
                               {"total", all}};
    }
  });
}

void Run::save_weights_if_asked() {
  if (cfg_.save_weights.empty()) return;
  std::vector<float> params;
  rs_->run_on(0, [&](Replica& rep) { params = rep.params(); });
  if (pg_.root())
    save_weights(cfg_.save_weights, plan_, params,
                 {{"format", "pt"}, {"cnnbench.model_spec", plan_.spec.str()}, {"cnnbench.input", plan_.input.str()}});
}

}  // namespace cnnb
