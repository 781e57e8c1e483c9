#pragma once
// Averaging on the host, the way tower and param-avg exchange: every replica's buffer is copied to
// host memory (each on its own thread, as D2H copies run per GPU), summed in replica order, summed
// across processes, and divided by the world's replica count. Then the mean can go back to every replica.
#include <cstdint>
#include <span>
#include <vector>

#include "strategies/comm/communicator.h"
#include "strategies/replica.h"

namespace cnnb {

class HostAverage {
 public:
  explicit HostAverage(int64_t count) : count_(count), mean_(size_t(count)) {}

  // mean() = the average over all world replicas of pick(replica)'s buffer (count floats on its device).
  void gather_mean(ReplicaSet& rs, Communicator& comm, float* (*pick)(Replica&));
  // Copies `host` (count floats) into pick(replica) on every local replica.
  void scatter(ReplicaSet& rs, const float* host, float* (*pick)(Replica&));

  std::span<float> mean() { return mean_; }

 private:
  int64_t count_;
  std::vector<float> mean_;
  std::vector<std::vector<float>> staged_;  // one host copy per local replica
};

}  // namespace cnnb
