// param-avg: every replica runs its own optimizer on its own shard; every k steps (--sync-every) the
// parameters go to the host, are averaged (across processes too) and sent back (Darknet's sync_nets).
// Optimizer state (momentum, Adam's moments) stays per replica and is never averaged.
// With k = 1 and SGD this equals single at the global batch even with momentum and weight decay:
// from identical parameters the update is linear in (gradient, velocity), so the mean of the
// replicas' velocities follows exactly the velocity single keeps. Adam's update is not linear in the
// gradient, so there it differs.
#include <optional>

#include "core/clock.h"
#include "strategies/host_average.h"
#include "strategies/strategy.h"

namespace cnnb {

namespace {

constexpr OptionSpec kSyncEvery{"sync_every", "--sync-every", OptionType::integer, 1, 1, 2147483647, "a positive integer",
                                "param-avg: average the parameters every k steps", true};
constexpr OptionSpec kOptions[] = {kSyncEvery};

float* params_of(Replica& r) { return r.net().params(); }

class ParamAvg final : public Strategy {
 public:
  explicit ParamAvg(int k) : k_(k) {}
  std::string_view name() const override { return "param-avg"; }
  // A checkpoint right after an average restarts the count to the next one exactly.
  CheckpointRule checkpoint_rule() const override { return {"", "", k_, &kSyncEvery}; }

  void setup(ReplicaSet& rs, Communicator& comm) override {
    comm.broadcast(rs.params(), rs.param_count());
    avg_.emplace(rs, rs.param_count());
  }

  ShardStats step(ReplicaSet& rs, Communicator& comm, const GlobalBatch& b, StepTimes& t) override {
    const ShardStats stats = rs.compute(b.split, b.shape, b.indices, t);
    rs.update(t);
    if (++steps_ % k_ == 0) {
      const auto t0 = SteadyClock::now();
      avg_->gather_mean(rs, comm, params_of);
      avg_->scatter(rs, avg_->mean().data(), params_of);
      t.exchange = t.exchange_busy = seconds_since(t0);
      t.exchange_bytes = double(rs.param_count()) * sizeof(float);
    }
    return stats;
  }

 private:
  int k_;
  int64_t steps_ = 0;
  std::optional<HostAverage> avg_;
};

}  // namespace

std::span<const OptionSpec> param_avg_strategy_options() { return kOptions; }

std::unique_ptr<Strategy> make_param_avg_strategy(const StrategyOptions& options) {
  return std::make_unique<ParamAvg>(int(options.value(kSyncEvery)));
}

}  // namespace cnnb
