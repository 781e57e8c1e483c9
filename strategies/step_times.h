#pragma once
// What one training step costs, phase by phase (DESIGN.md §7). With several replicas every compute
// phase is the slowest replica's, so the phases add up to the step's wall time.
namespace cnnb {

struct StepTimes {
  double data = 0, h2d = 0, forward = 0, backward = 0, exchange = 0, update = 0;  // seconds
  // Bytes of the buffer each replica exchanged in this step (nccl-tests' "size"): the flat gradient
  // or parameter buffer, 0 on steps without exchange.
  double exchange_bytes = 0;
  // Seconds the communicator worked in this step. `exchange` above is the part of it the step waited
  // for; an exchange overlapped with backward (allreduce --buckets) is busy longer than it is exposed.
  double exchange_busy = 0;
  double total() const { return data + h2d + forward + backward + exchange + update; }
};

}  // namespace cnnb
