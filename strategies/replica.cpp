#include "strategies/replica.h"

#include <algorithm>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/stream_fault.h"

namespace cnnb {

namespace {

std::unique_ptr<Device> make_device(const ReplicaSetup& s, int local) {
  const int id = s.devices.ids[size_t(local)];
  return s.devices.kind == DeviceKind::cpu ? make_cpu_device(id, s.threads) : make_cuda_device(id);
}

// A network computes on a prefetch slot only for the step that took it.
class BoundBatch {
 public:
  BoundBatch(Network<float>& net, const float* x, const int32_t* y) : net_(net) { net_.bind_batch(x, y); }
  ~BoundBatch() { net_.bind_batch(nullptr, nullptr); }
  BoundBatch(const BoundBatch&) = delete;
  BoundBatch& operator=(const BoundBatch&) = delete;

 private:
  Network<float>& net_;
};

enum Mark { kStart, kUploaded, kForwardDone, kBackwardDone };

std::unique_ptr<StepClock> make_clock(const ReplicaSetup& s, Device& dev) {
  return s.timing == TimingMode::events ? dev.make_step_clock(ReplicaSet::kMarks)
                                        : make_host_step_clock(ReplicaSet::kMarks);
}

// What a device error at the end of the update names as the last op queued.
std::string optimizer_op(const ReplicaSetup& s) {
  const Op op = s.optimizer.kind == OptimizerConfig::Kind::sgd ? Op::sgd_update : Op::adam_update;
  return fmt::format("{} (the optimizer step)", s.ops.chosen[size_t(op)].empty() ? op_name(op) : s.ops.chosen[size_t(op)]);
}

}  // namespace

Replica::Replica(const ReplicaSetup& s, int local_index)
    : x(size_t(s.shard) * size_t(s.plan.input.size())),
      y(size_t(s.shard)),
      local_(local_index),
      dev_(make_device(s, local_index)),
      net_(s.plan, s.ops, *dev_, s.shard),
      opt_(s.optimizer, *dev_, s.plan.param_count),
      losses_(*dev_, size_t(s.shard)),
      logits_(*dev_, size_t(s.shard) * size_t(s.plan.classes)),
      clock_(make_clock(s, *dev_)) {
  const std::vector<float> init = init_params(s.plan, s.seed);
  dev_->upload(net_.params(), init.data(), init.size() * sizeof(float));
  dev_->synchronize();
  if (s.pipeline == Pipeline::prefetch)
    loader_ = std::make_unique<BatchLoader>(*dev_, s.plan.input, s.shard, s.prefetch_depth);
}

std::vector<float> Replica::params() const {
  std::vector<float> p(size_t(net_.param_count()));
  dev_->download(p.data(), net_.params(), p.size() * sizeof(float));
  return p;
}

ReplicaSet::ReplicaSet(ReplicaSetup setup) : setup_(std::move(setup)) {
  CNNB_CHECK(setup_.devices.count() >= 1, "a replica set needs at least one device");
  CNNB_CHECK(setup_.shard >= 1, "a replica needs at least one image per step, got {}", setup_.shard);
  const int n = setup_.devices.count();
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  replicas_.resize(size_t(n));
  step_results_.resize(size_t(n));
  run_each(workers_, [&](int i) { replicas_[size_t(i)] = std::make_unique<Replica>(setup_, i); });
}

ReplicaSet::~ReplicaSet() {
  // Each replica is torn down on the thread that built it (a GPU's context is current there).
  try {
    run_each(workers_, [&](int i) { replicas_[size_t(i)].reset(); });
  } catch (...) {
  }
}

std::vector<Device*> ReplicaSet::devices() {
  std::vector<Device*> d;
  for (auto& r : replicas_) d.push_back(&r->device());
  return d;
}

std::vector<float*> ReplicaSet::params() {
  std::vector<float*> p;
  for (auto& r : replicas_) p.push_back(r->net().params());
  return p;
}

std::vector<float*> ReplicaSet::grads() {
  std::vector<float*> g;
  for (auto& r : replicas_) g.push_back(r->net().grads());
  return g;
}

void ReplicaSet::run_all(const std::function<void(Replica&)>& fn) {
  run_each(workers_, [&](int i) { fn(*replicas_[size_t(i)]); });
}

void ReplicaSet::run_on(int i, const std::function<void(Replica&)>& fn) {
  CNNB_ASSERT(i >= 0 && i < size());
  workers_[size_t(i)]->submit([&] { fn(*replicas_[size_t(i)]); });
  workers_[size_t(i)]->wait();
}

void ReplicaSet::begin_epoch(const Split& split, Shape shape, std::span<const int64_t> order, int batch,
                             int64_t first_step, int64_t steps) {
  end_epoch();
  if (setup_.pipeline != Pipeline::prefetch) return;
  CNNB_CHECK(shape == setup_.plan.input, "images of {} do not fit a model planned for {}", shape.str(),
             setup_.plan.input.str());
  for (int i = 0; i < size(); ++i)
    replicas_[size_t(i)]->loader()->start(split, order, batch, (setup_.first_replica + i) * setup_.shard, first_step,
                                          steps);
}

void ReplicaSet::end_epoch() noexcept {
  for (auto& r : replicas_)
    if (r && r->loader()) r->loader()->stop();
}

// The shard's loss sum (Network::mean_loss times n) and correct predictions, from their host copies.
void ReplicaSet::score(const float* losses, const float* logits, const int32_t* labels, int n, int classes,
                       ReplicaStep& out) {
  double loss = 0;
  for (int k = 0; k < n; ++k) loss += double(losses[k]);
  out.loss_sum = loss / n * n;
  for (int k = 0; k < n; ++k) {
    const float* row = logits + size_t(k) * size_t(classes);
    out.correct += int(std::max_element(row, row + classes) - row) == labels[k];
  }
}

struct ReplicaSet::ComputeInput {
  const Split& split;
  Shape shape;
  std::span<const int64_t> batch;
  std::span<BackwardHook* const> hooks;
};

ShardStats ReplicaSet::compute(const Split& split, Shape shape, std::span<const int64_t> batch, StepTimes& t,
                               std::span<BackwardHook* const> hooks) {
  const int world = int(batch.size()) / setup_.shard;
  CNNB_CHECK(int64_t(world) * setup_.shard == int64_t(batch.size()) && setup_.first_replica + size() <= world,
             "a global batch of {} does not split into shards of {} for replicas {}..{}", batch.size(), setup_.shard,
             setup_.first_replica, setup_.first_replica + size() - 1);
  CNNB_CHECK(hooks.empty() || int(hooks.size()) == size(), "{} backward hooks for {} replicas", hooks.size(), size());
  // Two pointers are all the job captures, so that std::function keeps it inline instead of allocating.
  const ComputeInput in{split, shape, batch, hooks};
  const auto start = SteadyClock::now();
  run_each(workers_, [this, &in](int i) { compute_replica(i, in); });
  const ReplicaStep* slowest = &step_results_[0];
  auto end = step_results_[0].end;
  ShardStats stats;
  for (const ReplicaStep& x : step_results_) {
    if (x.t.total() > slowest->t.total()) slowest = &x;
    end = std::max(end, x.end);
    stats.loss_sum += x.loss_sum;
    stats.correct += x.correct;
    stats.images += setup_.shard;
  }
  t.data = slowest->t.data + std::max(0.0, seconds_between(start, end) - slowest->t.total());
  t.h2d = slowest->t.h2d;
  t.forward = slowest->t.forward;
  t.backward = slowest->t.backward;
  t.metrics = slowest->t.metrics;
  t.numerics = slowest->t.numerics;
  return stats;
}

void ReplicaSet::compute_replica(int i, const ComputeInput& in) {
  Replica& r = *replicas_[size_t(i)];
  Network<float>& net = r.net();
  Device& dev = r.device();
  StepClock& clock = r.clock();
  const int n = setup_.shard;
  ReplicaStep& out = step_results_[size_t(i)];
  out = ReplicaStep{};
  const std::span<const int64_t> shard = in.batch.subspan(size_t(setup_.first_replica + i) * size_t(n), size_t(n));
  const int32_t* labels = r.y.data();  // host copy, for the accuracy
  std::optional<BoundBatch> bound;
  BatchLoader* loader = r.loader();
  const auto t0 = SteadyClock::now();
  if (loader) {
    const BatchLoader::Batch b = loader->next();
    CNNB_CHECK(std::ranges::equal(b.indices, shard),
               "replica {}: the prefetch pipeline holds step {} of the epoch begun, but the step asked for other "
               "images (steps must follow the order given to begin_epoch)",
               i, b.step + 1);
    bound.emplace(net, b.x, b.y);
    labels = b.host_y;
  } else {
    build_batch(in.split, in.shape, shard, r.x.data(), r.y.data());
  }
  const auto data_end = SteadyClock::now();
  out.t.data = seconds_between(t0, data_end);

  // Sync timing ends every phase with a sync and times it on the host; events timing only marks the
  // boundary on the device's queue and syncs once, after the outputs' copy.
  const bool sync = setup_.timing == TimingMode::sync;
  const auto last_op = [&net] { return net.last_op(); };
  const auto end_phase = [&](Mark m, StepPhase p) {
    if (sync) synchronize_phases(dev, p, p, last_op);
    clock.mark(m);
  };
  clock.mark(kStart);
  if (!loader) {
    dev.upload(net.input(), r.x.data(), r.x.size() * sizeof(float));
    dev.upload(net.labels(), r.y.data(), r.y.size() * sizeof(int32_t));
    end_phase(kUploaded, StepPhase::h2d);
  }
  net.forward(n, true);
  end_phase(kForwardDone, StepPhase::forward);
  net.backward(n, in.hooks.empty() ? nullptr : in.hooks[size_t(i)]);
  end_phase(kBackwardDone, StepPhase::backward);
  net.queue_outputs(n, r.losses().data(), r.logits().data());
  const StepPhase first = sync ? StepPhase::metrics : loader ? StepPhase::forward : StepPhase::h2d;
  synchronize_phases(dev, first, StepPhase::metrics, last_op);
  score(r.losses().data(), r.logits().data(), labels, n, setup_.plan.classes, out);
  out.end = SteadyClock::now();

  const double h2d = loader ? 0.0 : clock.seconds(kStart, kUploaded);
  const double forward = clock.seconds(loader ? kStart : kUploaded, kForwardDone);
  out.t.h2d = h2d;
  out.t.numerics = std::min(net.forward_hook_seconds(), forward);
  out.t.forward = forward - out.t.numerics;
  out.t.backward = clock.seconds(kForwardDone, kBackwardDone);
  // The rest of the replica's wall time: the outputs' copy and the host's sums, and under events timing
  // the launch of the first mark and the wake-up from the sync.
  out.t.metrics = std::max(0.0, seconds_between(data_end, out.end) - (h2d + forward + out.t.backward));
}

void ReplicaSet::update(StepTimes& t) {
  const auto start = SteadyClock::now();
  run_all([&](Replica& r) {
    r.optimizer().step(setup_.ops, r.net().params(), r.net().grads());
    synchronize_phases(r.device(), StepPhase::update, StepPhase::update, [this] { return optimizer_op(setup_); });
  });
  t.update = seconds_since(start);
}

}  // namespace cnnb
