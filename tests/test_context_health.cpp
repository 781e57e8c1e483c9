// The CUDA context-loss query (backends/context_health.h): which error codes are sticky, the probe on
// this machine, and the guard that verify and cnnbench-micro use to stop running GPU jobs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#if CNNB_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "backends/context_health.h"
#include "core/device.h"

namespace cnnb {
namespace {

TEST(ContextHealth, StickyCodesAreThoseDriverTypesDocumentAsFatal) {
  // The numbers of driver_types.h (CUDA 13.0), written out here rather than taken from the classifier.
  for (int code : {226, 700, 702, 710, 714, 715, 716, 717, 718, 719, 721, 810, 911})
    EXPECT_TRUE(is_sticky_cuda_error(code)) << code;
  // Errors of one call only: success, invalid value, out of memory, no device, insufficient driver,
  // invalid configuration, no kernel image, launch out of resources, too many cooperative blocks,
  // not ready, not permitted, MPS connection failed (the client may retry).
  for (int code : {0, 1, 2, 35, 100, 9, 209, 701, 720, 600, 800, 805, -1, 999})
    EXPECT_FALSE(is_sticky_cuda_error(code)) << code;
}

#if CNNB_HAVE_CUDA
TEST(ContextHealth, StickyCodesMatchTheRuntimeEnum) {
  EXPECT_TRUE(is_sticky_cuda_error(cudaErrorIllegalAddress));
  EXPECT_TRUE(is_sticky_cuda_error(cudaErrorLaunchFailure));
  EXPECT_TRUE(is_sticky_cuda_error(cudaErrorIllegalInstruction));
  EXPECT_TRUE(is_sticky_cuda_error(cudaErrorMisalignedAddress));
  EXPECT_TRUE(is_sticky_cuda_error(cudaErrorHardwareStackError));
  EXPECT_TRUE(is_sticky_cuda_error(cudaErrorAssert));
  EXPECT_FALSE(is_sticky_cuda_error(cudaErrorMemoryAllocation));
  EXPECT_FALSE(is_sticky_cuda_error(cudaErrorLaunchOutOfResources));
  EXPECT_FALSE(is_sticky_cuda_error(cudaErrorNoDevice));
}
#endif

TEST(ContextHealth, TheProbeIsHealthyForNoGpusAndOnAMachineWithoutOne) {
  EXPECT_FALSE(cuda_context_health({}).lost);
  if (cuda_device_count() > 0) GTEST_SKIP() << "this machine has a GPU: its contexts are not probed here";
  // Without a GPU (or without CUDA in this build) nothing can be lost, whatever is asked.
  const std::vector<int> gpus = {0, 1};
  const ContextHealth h = cuda_context_health(gpus);
  EXPECT_FALSE(h.lost);
  EXPECT_EQ(h.error, "");
}

TEST(ContextLossGuard, KeepsTheFirstLossAndStopsAsking) {
  int probes = 0;
  ContextLossGuard guard([&](std::span<const int> gpus) {
    ++probes;
    EXPECT_EQ(gpus.size(), 1u);
    return ContextHealth{probes >= 2, "gpu:0: cudaErrorAssert (device-side assert triggered)"};
  });
  const int gpu0[] = {0};
  EXPECT_FALSE(guard.lost());
  EXPECT_FALSE(guard.lost_after_failure("conv_fwd/cuda/naive/a", gpu0));  // a plain failure
  EXPECT_FALSE(guard.lost());
  EXPECT_TRUE(guard.lost_after_failure("conv_fwd/cuda/naive/b", gpu0));
  EXPECT_TRUE(guard.lost_after_failure("pool_fwd/cuda/naive/c", gpu0));  // known: not probed again
  EXPECT_EQ(probes, 2);
  EXPECT_TRUE(guard.lost());
  EXPECT_EQ(guard.cause(), "conv_fwd/cuda/naive/b");
  EXPECT_EQ(guard.error(), "gpu:0: cudaErrorAssert (device-side assert triggered)");
  EXPECT_EQ(guard.not_run_reason(), "not run: CUDA context lost after conv_fwd/cuda/naive/b");
}

}  // namespace
}  // namespace cnnb
