// single: one replica, no exchange. The baseline every speedup and scaling number is measured against.
#include "strategies/strategy.h"

namespace cnnb {

namespace {

class Single final : public Strategy {
 public:
  std::string_view name() const override { return "single"; }
  bool multi_replica() const override { return false; }
  int exchange_calls() const override { return 0; }
  ShardStats step(ReplicaSet& rs, Communicator&, const GlobalBatch& b, StepTimes& t) override {
    const ShardStats stats = rs.compute(b.split, b.shape, b.indices, t);
    rs.update(t);
    return stats;
  }
};

}  // namespace

std::span<const OptionSpec> single_strategy_options() { return {}; }

std::unique_ptr<Strategy> make_single_strategy(const StrategyOptions&) { return std::make_unique<Single>(); }

}  // namespace cnnb
