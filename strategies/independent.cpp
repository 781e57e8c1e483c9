// independent: every replica trains its own model on its own shard and nothing is exchanged. The
// control of a scaling chart: what the devices deliver when communication costs nothing.
#include "strategies/strategy.h"

namespace cnnb {

namespace {

class Independent final : public Strategy {
 public:
  std::string_view name() const override { return "independent"; }
  int exchange_calls() const override { return 0; }
  ShardStats step(ReplicaSet& rs, Communicator&, const GlobalBatch& b, StepTimes& t) override {
    const ShardStats stats = rs.compute(b.split, b.shape, b.indices, t);
    rs.update(t);
    return stats;
  }
};

}  // namespace

std::span<const OptionSpec> independent_strategy_options() { return {}; }

std::unique_ptr<Strategy> make_independent_strategy(const StrategyOptions&) { return std::make_unique<Independent>(); }

}  // namespace cnnb
