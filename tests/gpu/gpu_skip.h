#pragma once
// Why a GPU test cannot run on this machine, or "" when it can: the reason every GPU test reports
// with GTEST_SKIP() instead of failing where there is no GPU.
#include <string>

#include <fmt/format.h>

#include "backends/cuda/device_query.h"
#include "core/device.h"

namespace cnnb::test {

enum class NeedsNccl : bool { no, yes };

inline std::string without_gpus(int needed, NeedsNccl nccl = NeedsNccl::no) {
  const int n = cuda_device_count();
  if (n < needed)
    return fmt::format("needs {} CUDA GPU{}, found {}{}", needed, needed == 1 ? "" : "s", n,
                       n == 0 ? ": " + cuda::cuda_environment().error : std::string());
#if !CNNB_HAVE_NCCL
  if (nccl == NeedsNccl::yes) return "this build has no NCCL";
#else
  (void)nccl;
#endif
  return "";
}

}  // namespace cnnb::test
