#pragma once
// How replicas cooperate in one optimizer step. A strategy composes the replica set's
// compute and update with the communicator's exchange; one strategy per file, listed in strategies.def.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/dataset.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/route.h"
#include "strategies/replica.h"
#include "strategies/step_times.h"
#include "strategies/strategy_options.h"

namespace cnnb {

// Whether a run of a strategy can be checkpointed and resumed, and at which step intervals.
struct CheckpointRule {
  std::string_view refusal;                // why not, when it cannot ("" when it can) ...
  std::string_view instead;                // ... and what to use instead
  int64_t multiple_of = 1;                 // checkpoints only every k-th step ...
  const OptionSpec* multiple_option = nullptr;  // ... k being this option's value
};

// One global batch: image indices into `split` (the replica set takes its shards of them).
struct GlobalBatch {
  const Split& split;
  Shape shape;
  std::span<const int64_t> indices;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string_view name() const = 0;
  // Whether this strategy runs with more than one world replica.
  virtual bool multi_replica() const { return true; }
  // Once, before the first step, after the replicas exist.
  virtual void setup(ReplicaSet&, Communicator&) {}
  // One optimizer step over the global batch; fills every phase of t and t.exchange_bytes.
  virtual ShardStats step(ReplicaSet& rs, Communicator& comm, const GlobalBatch& batch, StepTimes& t) = 0;
  // Before an evaluation and at the end: local replica 0 must then hold the model to evaluate. Not timed.
  virtual void settle(ReplicaSet&, Communicator&) {}
  // Communicator calls per exchange (allreduce's buckets); 0 for a strategy that never exchanges.
  virtual int exchange_calls() const { return 1; }
  // A checkpoint must hold all of the strategy's state, and a resumed run must continue exactly.
  virtual CheckpointRule checkpoint_rule() const { return {}; }
};

struct StrategyInfo {
  std::string_view name, description;
  ExchangePath exchange;
};
std::vector<StrategyInfo> strategy_infos();
// The declaration of strategy `name`; InputError listing the valid names for an unknown one.
StrategyInfo strategy_info(std::string_view name);

// Throws InputError for an unknown name (listing the valid ones) or options the strategy cannot take
// (named by their keys; an edge checks them first, naming them its own way).
std::unique_ptr<Strategy> make_strategy(std::string_view name, const StrategyOptions& options = {});
// Checks the name only, for early validation: InputError listing the valid names.
void check_strategy_name(std::string_view name);

#define STRATEGY(id, name, exchange, description)                            \
  std::unique_ptr<Strategy> make_##id##_strategy(const StrategyOptions& options); \
  std::span<const OptionSpec> id##_strategy_options();
#include "strategies/strategies.def"

}  // namespace cnnb
