#pragma once
// Marks at the phase boundaries of a training step, made once per replica by its Device and reused
// every step: on a GPU, CUDA events recorded on the replica's stream (so marking costs no sync and the
// durations are the stream's own); on the CPU, and for `--timing sync` everywhere, host timestamps.
#include <memory>

namespace cnnb {

class StepClock {
 public:
  virtual ~StepClock() = default;
  // Mark i (0 <= i < marks()) is the moment the device reaches this point of the work queued so far.
  virtual void mark(int i) = 0;
  // Seconds from mark a to mark b; valid once the device has synchronized after mark b was made.
  virtual double seconds(int a, int b) const = 0;
  virtual int marks() const = 0;
};

// Host timestamps (steady_clock). A mark is "now": exact for a device whose ops return when done, and
// for a device synchronized just before each mark.
std::unique_ptr<StepClock> make_host_step_clock(int marks);

}  // namespace cnnb
