#pragma once
// What one training step costs, phase by phase. With several replicas every compute
// phase is the slowest replica's, so the phases add up to the step's wall time.
#include <string_view>

namespace cnnb {

struct StepTimes {
  double data = 0, h2d = 0, forward = 0, backward = 0, exchange = 0, update = 0;  // seconds
  // Bytes of the buffer each replica exchanged in this step (nccl-tests' "size"): the flat gradient
  // or parameter buffer, 0 on steps without exchange.
  double exchange_bytes = 0;
  // Seconds the communicator worked in this step. `exchange` above is the part of it the step waited
  // for; an exchange overlapped with backward (allreduce's gradient buckets) is busy longer than it is exposed.
  double exchange_busy = 0;
  // The step's loss and accuracy: the copy of the per-image losses and the logits to the host, the host's
  // argmax, and (events timing) the wait for compute's one sync. A phase of its own, so that images/s
  // pays for it.
  double metrics = 0;
  // --check-numerics' scan of every layer's output: kept out of `forward`, so that forward compares
  // with and without it. 0 without the flag.
  double numerics = 0;
  double total() const { return data + h2d + forward + backward + exchange + update + metrics + numerics; }
  // The phases of ReplicaSet::compute alone (what a strategy subtracts to find the exchange it exposes).
  double compute() const { return data + h2d + forward + backward + metrics + numerics; }
};

// How a step's phases are timed. `events`: the device marks each phase boundary on its stream and the
// compute part of a step synchronizes once, after the copy of its loss and logits (on a GPU: CUDA
// events, read with cudaEventElapsedTime). `sync`: the device synchronizes at the end of every phase and
// the host clock times it; the GPU then idles while the host launches each phase. In both, the update
// ends with one sync (the strategies need the loss and the gradients between compute and update). A CPU
// device's ops are synchronous, so there a mark is a host timestamp and both modes measure the same thing.
enum class TimingMode { events, sync };

// "events" or "sync"; InputError naming `flag` and the choices for anything else.
TimingMode parse_timing_mode(std::string_view text, std::string_view flag = "--timing");
std::string_view timing_mode_name(TimingMode m);

}  // namespace cnnb
