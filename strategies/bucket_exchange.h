#pragma once
// allreduce --buckets: the gradient exchange overlapped with backward, as PyTorch DDP does it. Buckets
// are ranges of whole parameter tensors, last layer first (the order backward finishes them). One
// thread, alive for the whole run, reduces bucket k as soon as every local replica's backward has
// finished it, while the replicas go on with the layers before; the step then waits only for what is
// left when the last backward ends.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "core/model_spec.h"
#include "model/network.h"
#include "strategies/comm/communicator.h"

namespace cnnb {

struct Bucket {
  int64_t offset = 0, count = 0;  // into the flat gradient buffer, in elements
};

// Buckets of whole tensors of about `mb` MiB each (a bucket closes once it holds that much), from the
// last tensor back, so that each is one contiguous range and their offsets decrease. mb <= 0 or a model
// without parameters: one bucket of everything.
std::vector<Bucket> make_buckets(const ModelPlan& plan, double mb);

class BucketExchange {
 public:
  // grads: every local replica's flat gradient buffer, in the communicator's local order. buckets:
  // contiguous, offsets decreasing, covering [0, the flat size) (as make_buckets gives them).
  BucketExchange(Communicator& comm, std::vector<float*> grads, std::vector<Bucket> buckets);
  // Stops the thread and joins it (a collective in flight finishes first, or times out).
  ~BucketExchange();
  BucketExchange(const BucketExchange&) = delete;
  BucketExchange& operator=(const BucketExchange&) = delete;

  // One hook per local replica, for ReplicaSet::compute. Hooks never block: a replica's backward runs
  // on whatever the exchange does.
  std::span<BackwardHook* const> hooks() const { return hook_ptrs_; }
  int buckets() const { return int(buckets_.size()); }

  // Arms the next step; before the replicas' backward starts.
  void begin();
  // After every replica's backward has returned: waits for the exchange to finish and rethrows what
  // the communicator threw. Returns the seconds spent in this step's communicator calls.
  double finish();
  // After a replica failed: ends the step without waiting for buckets that will never be ready (a call
  // in flight still completes). The communicator's own error, if any, is dropped for the replica's.
  void cancel() noexcept;

 private:
  class ReplicaHook;
  void announce(int local, int ready);  // replica `local` has marked buckets [0, ready)
  int all_ready() const;                // buckets every replica has marked (lock held)
  void loop();

  Communicator& comm_;
  std::vector<float*> grads_;
  std::vector<Bucket> buckets_;
  std::vector<std::unique_ptr<ReplicaHook>> hooks_;
  std::vector<BackwardHook*> hook_ptrs_;
  std::vector<float*> slice_;  // the exchange thread's per-call pointers, allocated once

  std::mutex m_;
  std::condition_variable cv_;
  std::vector<int> ready_;  // per replica: buckets marked this step
  bool armed_ = false, cancel_ = false, stop_ = false;
  double busy_ = 0;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once everything it uses exists
};

}  // namespace cnnb
