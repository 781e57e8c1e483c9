#include "core/stream_fault.h"

#include <fmt/format.h>

namespace cnnb {

std::string_view step_phase_name(StepPhase p) {
  switch (p) {
    case StepPhase::h2d: return "h2d";
    case StepPhase::forward: return "forward";
    case StepPhase::backward: return "backward";
    case StepPhase::metrics: return "metrics (loss and logits to the host)";
    case StepPhase::update: return "update";
  }
  return "?";
}

std::string stream_fault_message(const StreamFault& f) {
  const bool one = f.first == f.last;
  const std::string phases = one ? fmt::format("the {} phase", step_phase_name(f.first))
                                 : fmt::format("the phases from {} to {}", step_phase_name(f.first),
                                               step_phase_name(f.last));
  return fmt::format(
      "{}: the device reported an error at the sync that ends {}: {}. The last op queued before that sync was {}, "
      "but queued work runs asynchronously, so the op that faulted may be any queued since the previous sync: "
      "rerun with CUDA_LAUNCH_BLOCKING=1 (every launch then waits for its kernel) to find it{}",
      f.device, phases, f.error, f.last_op, one ? "" : ", or with --timing sync to narrow it to one phase");
}

}  // namespace cnnb
