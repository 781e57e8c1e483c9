#pragma once
// Averaging on the host, the way tower and param-avg exchange: every replica's buffer is copied to
// host memory (each on its own thread, as D2H copies run per GPU), summed in replica order, summed
// across processes, and divided by the world's replica count. Then the mean can go back to every replica.
// The host buffers are each replica device's host memory: page-locked for GPU replicas, so the copies
// run at full PCIe speed (pinned memory is usable by every GPU of the process).
#include <cstdint>
#include <span>
#include <vector>

#include "core/device.h"
#include "strategies/comm/communicator.h"
#include "strategies/replica.h"

namespace cnnb {

class HostAverage {
 public:
  // Buffers of `count` floats, allocated through rs's devices; rs must outlive this.
  HostAverage(ReplicaSet& rs, int64_t count);

  // mean() = the average over all world replicas of pick(replica)'s buffer (count floats on its device).
  void gather_mean(ReplicaSet& rs, Communicator& comm, float* (*pick)(Replica&));
  // Copies `host` (count floats; from pinned memory on a GPU for full speed) into pick(replica) on
  // every local replica.
  void scatter(ReplicaSet& rs, const float* host, float* (*pick)(Replica&));

  std::span<float> mean() { return {mean_.data(), mean_.size()}; }

 private:
  int64_t count_;
  HostBuffer<float> mean_;
  std::vector<HostBuffer<float>> staged_;  // one host copy per local replica
};

}  // namespace cnnb
