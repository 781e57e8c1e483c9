// allreduce: every replica computes gradients on its shard, the communicator averages them in place,
// and every replica applies the same update to the same parameters, so the replicas stay identical
// (TF MirroredStrategy, Horovod, PyTorch DDP).
//
// --buckets MB splits the flat gradient buffer into buckets of whole parameter tensors, last layer
// first, about MB MiB each, and exchanges each bucket as soon as every local replica's backward has
// finished it, on a thread of its own, while backward goes on with the earlier layers (DDP's overlap;
// strategies/bucket_exchange.h). The step's `exchange` phase is then only the part left after the last
// backward ends; `exchange_busy` is the whole. Without --buckets: one call after backward.
#include <algorithm>
#include <limits>
#include <memory>

#include "core/clock.h"
#include "strategies/bucket_exchange.h"
#include "strategies/strategy.h"

namespace cnnb {

namespace {

constexpr OptionSpec kBuckets{"bucket_mb", "--buckets", OptionType::number, 0, 0, std::numeric_limits<double>::max(),
                              "a size in MiB >= 0 (0 = one call)",
                              "allreduce: gradient buckets of about this many MiB (0 = one call)", false};
constexpr OptionSpec kOptions[] = {kBuckets};

class AllReduce final : public Strategy {
 public:
  explicit AllReduce(double bucket_mb) : bucket_mb_(bucket_mb) {}
  std::string_view name() const override { return "allreduce"; }
  int exchange_calls() const override { return exchange_ ? exchange_->buckets() : 1; }

  void setup(ReplicaSet& rs, Communicator& comm) override {
    // Same seed gives the same parameters already; the broadcast makes it a guarantee, as DDP does.
    comm.broadcast(rs.params(), rs.param_count());
    grads_ = rs.grads();
    if (bucket_mb_ > 0) exchange_ = std::make_unique<BucketExchange>(comm, grads_, make_buckets(rs.setup().plan, bucket_mb_));
  }

  ShardStats step(ReplicaSet& rs, Communicator& comm, const GlobalBatch& b, StepTimes& t) override {
    const ShardStats stats = exchange_ ? compute_overlapped(rs, b, t) : compute_then_exchange(rs, comm, b, t);
    t.exchange_bytes = double(rs.param_count()) * sizeof(float);
    rs.update(t);
    return stats;
  }

 private:
  ShardStats compute_then_exchange(ReplicaSet& rs, Communicator& comm, const GlobalBatch& b, StepTimes& t) {
    const ShardStats stats = rs.compute(b.split, b.shape, b.indices, t);
    const auto t0 = SteadyClock::now();
    comm.allreduce_mean(grads_, rs.param_count());
    t.exchange = t.exchange_busy = seconds_since(t0);
    return stats;
  }

  ShardStats compute_overlapped(ReplicaSet& rs, const GlobalBatch& b, StepTimes& t) {
    exchange_->begin();
    const auto start = SteadyClock::now();
    ShardStats stats;
    try {
      stats = rs.compute(b.split, b.shape, b.indices, t, exchange_->hooks());
    } catch (...) {
      exchange_->cancel();
      throw;
    }
    t.exchange_busy = exchange_->finish();
    // compute's phases cover the time until its last phase ended; what the exchange takes beyond
    // that is exposed.
    const double exposed = seconds_since(start) - t.compute();
    t.exchange = std::max(0.0, exposed);
    return stats;
  }

  double bucket_mb_;
  std::vector<float*> grads_;
  std::unique_ptr<BucketExchange> exchange_;
};

}  // namespace

std::span<const OptionSpec> allreduce_strategy_options() { return kOptions; }

std::unique_ptr<Strategy> make_allreduce_strategy(const StrategyOptions& options) {
  return std::make_unique<AllReduce>(options.value(kBuckets));
}

}  // namespace cnnb
