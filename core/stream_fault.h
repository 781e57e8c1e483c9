#pragma once
// A device error that surfaces when a step synchronizes its stream says nothing of where it happened:
// kernels run asynchronously, so the sync only learns that some queued work failed. This is the one
// place that words it, naming the phase(s) the sync closed, the last op queued before it, and how to
// find the op that faulted.
#include <string>
#include <string_view>

#include "core/device.h"
#include "core/error.h"

namespace cnnb {

// The parts of a training step, in step order.
enum class StepPhase { h2d, forward, backward, metrics, update };
std::string_view step_phase_name(StepPhase p);

struct StreamFault {
  std::string_view device;  // "gpu:0 (NVIDIA A100-SXM4-80GB)"
  StepPhase first, last;    // the phases the failed sync closed (first == last under --timing sync)
  std::string_view last_op; // "conv_bwd_data/cuda/naive of layer conv2"
  std::string_view error;   // what the failed call reported
};

std::string stream_fault_message(const StreamFault& f);

// dev.synchronize(), with a failure rethrown as cnnb::Error worded by stream_fault_message. last_op() is
// called only then (describing the op may allocate; the step loop must not).
template <class LastOp>
void synchronize_phases(Device& dev, StepPhase first, StepPhase last, LastOp&& last_op) {
  try {
    dev.synchronize();
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    const std::string op = last_op();
    throw Error(stream_fault_message({dev.name(), first, last, op, e.what()}));
  }
}

}  // namespace cnnb
