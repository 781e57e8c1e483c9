#include "backends/context_health.h"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

bool is_sticky_cuda_error(int code) {
  return std::find(kStickyCudaErrors.begin(), kStickyCudaErrors.end(), code) != kStickyCudaErrors.end();
}

ContextLossGuard::ContextLossGuard(ContextProbe probe) : probe_(std::move(probe)) {
  CNNB_ASSERT(probe_ != nullptr);
}

bool ContextLossGuard::lost_after_failure(std::string_view what, std::span<const int> gpus) {
  if (lost()) return true;
  const ContextHealth h = probe_(gpus);
  if (!h.lost) return false;
  lost_ = true;
  cause_ = std::string(what);
  error_ = h.error;
  return true;
}

std::string ContextLossGuard::not_run_reason() const { return "not run: CUDA context lost after " + cause_; }

}  // namespace cnnb
