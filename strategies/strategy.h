#pragma once
// How replicas cooperate in one optimizer step (DESIGN.md §5). A strategy composes the replica set's
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

namespace cnnb {

struct StrategyOptions {
  int sync_every = 1;     // param-avg: average the parameters every k steps
  double bucket_mb = 0;   // allreduce: gradient buckets of about this many MiB (0 = one call over the flat buffer)
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
};

// For the factories: InputError when an option is given to a strategy that has no use for it.
void check_options_apply(std::string_view strategy, const StrategyOptions& o, bool takes_sync_every, bool takes_buckets);

struct StrategyInfo {
  std::string_view name, description;
  ExchangePath exchange;
};
std::vector<StrategyInfo> strategy_infos();
// The declaration of strategy `name`; InputError listing the valid names for an unknown one.
StrategyInfo strategy_info(std::string_view name);

// Throws InputError for an unknown name (listing the valid ones) or options the strategy cannot take.
std::unique_ptr<Strategy> make_strategy(std::string_view name, const StrategyOptions& options = {});
// Checks the name only, for early validation: InputError listing the valid names.
void check_strategy_name(std::string_view name);

#define STRATEGY(id, name, exchange, description) \
  std::unique_ptr<Strategy> make_##id##_strategy(const StrategyOptions& options);
#include "strategies/strategies.def"

}  // namespace cnnb
