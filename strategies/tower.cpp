// tower: the master parameters and the optimizer live on the host. Every step each tower receives the
// parameters, computes gradients on its shard and sends them back; the host averages them (across
// processes too) and applies the update (TensorFlow's cifar10_multi_gpu_train.py). The parameter and
// gradient copies are the exchange; the host optimizer step is the update.
// The master parameters and the gathered gradients live in the towers' host memory (pinned for GPU
// towers), so both copies run at full speed; the optimizer's state is plain host memory, which only the
// host touches.
#include <algorithm>
#include <optional>
#include <thread>

#include "backends/backend.h"
#include "core/clock.h"
#include "core/error.h"
#include "strategies/host_average.h"
#include "strategies/strategy.h"

namespace cnnb {

namespace {

float* params_of(Replica& r) { return r.net().params(); }
float* grads_of(Replica& r) { return r.net().grads(); }

class Tower final : public Strategy {
 public:
  std::string_view name() const override { return "tower"; }
  CheckpointRule checkpoint_rule() const override {
    return {"its master parameters and optimizer live in the strategy", "use allreduce, which computes the same updates"};
  }

  void setup(ReplicaSet& rs, Communicator& comm) override {
    const int64_t n = rs.param_count();
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    host_ = make_cpu_device(0, std::max(1, cores / comm.processes().local_size()));
    // The host updates the master copy with the recipe's host twin; a CPU recipe has none and keeps its own
    // optimizer kernel, so that tower matches single bit for bit in its update.
    const std::string_view twin = backend_recipe(rs.setup().ops.recipe).host_twin;
    host_ops_ = twin.empty() ? rs.setup().ops : resolve_backend(twin);
    master_ = HostBuffer<float>(rs[0].device(), size_t(n));
    rs[0].device().download(master_.data(), rs[0].net().params(), master_.bytes());
    comm.processes().broadcast(std::as_writable_bytes(std::span(master_.data(), master_.size())), 0);
    opt_.emplace(rs.setup().optimizer, *host_, n);
    avg_.emplace(rs, n);
  }

  ShardStats step(ReplicaSet& rs, Communicator& comm, const GlobalBatch& b, StepTimes& t) override {
    auto t0 = SteadyClock::now();
    avg_->scatter(rs, master_.data(), params_of);
    const double send = seconds_since(t0);
    const ShardStats stats = rs.compute(b.split, b.shape, b.indices, t);
    t0 = SteadyClock::now();
    avg_->gather_mean(rs, comm, grads_of);
    t.exchange = t.exchange_busy = send + seconds_since(t0);
    t.exchange_bytes = double(rs.param_count()) * sizeof(float);
    t0 = SteadyClock::now();
    opt_->step(host_ops_, master_.data(), avg_->mean().data());
    t.update = seconds_since(t0);
    return stats;
  }

  // The towers hold last step's parameters; the model is the host's.
  void settle(ReplicaSet& rs, Communicator&) override { avg_->scatter(rs, master_.data(), params_of); }

 private:
  std::unique_ptr<Device> host_;
  OpSet<float> host_ops_;
  HostBuffer<float> master_;
  std::optional<Optimizer<float>> opt_;
  std::optional<HostAverage> avg_;
};

}  // namespace

std::span<const OptionSpec> tower_strategy_options() { return {}; }

std::unique_ptr<Strategy> make_tower_strategy(const StrategyOptions&) { return std::make_unique<Tower>(); }

}  // namespace cnnb
