#pragma once
// What the GPU module answers for cuda_context_health() (backends/context_health.h).
#include <span>

#include "backends/context_health.h"

namespace cnnb::cuda {

ContextHealth probe_context_health(std::span<const int> gpus);

}  // namespace cnnb::cuda
