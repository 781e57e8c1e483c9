// allreduce: every replica computes gradients on its shard, the communicator averages them in place,
// and every replica applies the same update to the same parameters, so the replicas stay identical
// (TF MirroredStrategy, Horovod, PyTorch DDP).
//
// --buckets MB splits the flat gradient buffer into buckets of whole parameter tensors, last layer
// first (the order backward finishes them), about MB MiB each, as DDP does. The buckets are exchanged
// one after another once backward has finished: Network::backward has no per-layer hook yet, so on
// every path here bucketing changes the call pattern but does not overlap exchange with backward.
#include <chrono>

#include "strategies/strategy.h"

namespace cnnb {

namespace {

struct Bucket {
  int64_t offset = 0, count = 0;
};

class AllReduce final : public Strategy {
 public:
  explicit AllReduce(double bucket_mb) : bucket_mb_(bucket_mb) {}
  std::string_view name() const override { return "allreduce"; }
  int exchange_calls() const override { return int(buckets_.size()); }

  void setup(ReplicaSet& rs, Communicator& comm) override {
    // Same seed gives the same parameters already; the broadcast makes it a guarantee, as DDP does.
    comm.broadcast(rs.params(), rs.param_count());
    buckets_ = make_buckets(rs.setup().plan, bucket_mb_);
  }

  ShardStats step(ReplicaSet& rs, Communicator& comm, const GlobalBatch& b, StepTimes& t) override {
    const ShardStats stats = rs.compute(b.split, b.shape, b.indices, t);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float*> grads = rs.grads();
    std::vector<float*> slice(grads.size());
    for (const Bucket& bk : buckets_) {
      for (size_t i = 0; i < grads.size(); ++i) slice[i] = grads[i] + bk.offset;
      comm.allreduce_mean(slice, bk.count);
    }
    t.exchange = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.exchange_bytes = double(rs.param_count()) * sizeof(float);
    rs.update(t);
    return stats;
  }

  static std::vector<Bucket> make_buckets(const ModelPlan& plan, double mb) {
    if (mb <= 0 || plan.params.empty()) return {Bucket{0, plan.param_count}};
    const auto cap = int64_t(mb * 1024 * 1024 / sizeof(float));
    std::vector<Bucket> out;
    // Walking the tensors backwards keeps each bucket one contiguous range of the flat buffer.
    int64_t end = plan.param_count;
    for (size_t i = plan.params.size(); i-- > 0;) {
      const int64_t begin = plan.params[i].offset;
      if (end - begin >= cap || i == 0) {
        out.push_back({begin, end - begin});
        end = begin;
      }
    }
    return out;
  }

 private:
  double bucket_mb_;
  std::vector<Bucket> buckets_;
};

}  // namespace

std::unique_ptr<Strategy> make_allreduce_strategy(const StrategyOptions& options) {
  check_options_apply("allreduce", options, false, true);
  return std::make_unique<AllReduce>(options.bucket_mb);
}

}  // namespace cnnb
