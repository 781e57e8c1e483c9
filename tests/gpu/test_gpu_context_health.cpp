// The context-loss probe (backends/context_health.h) on a real GPU: healthy after ordinary work, lost after
// a kernel reads an illegal address. The loss poisons the whole process, so that test runs in a child
// process of its own (a GoogleTest death test, "threadsafe" style: the child starts afresh and runs only
// it). Without a usable GPU both report SKIPPED.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>

#include "backends/context_health.h"
#include "backends/cuda_environment.h"
#include "backends/registry.h"
#include "core/device.h"

namespace cnnb {
namespace {

TEST(GpuContextHealth, HealthyAfterOrdinaryWork) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no usable CUDA GPU: " << cuda::cuda_environment().error;
  auto gpu = make_cuda_device(0);
  Buffer<float> b(*gpu, 1024);
  b.zero();
  gpu->synchronize();
  const int gpu0[] = {0};
  const ContextHealth h = cuda_context_health(gpu0);
  EXPECT_FALSE(h.lost) << h.error;
  EXPECT_EQ(h.error, "");
}

// In the child: relu_fwd/cuda/naive on pointers no allocation covers, then the probe; the exit code and
// stderr say what it found.
[[noreturn]] void lose_the_context_and_probe() {
  auto gpu = make_cuda_device(0);
  const KernelInfo* relu = find_kernel(Op::relu_fwd, "cuda", "naive");
  if (!relu) std::_Exit(3);
  auto* bogus = reinterpret_cast<float*>(uintptr_t(64));
  try {
    kernel_fn<Op::relu_fwd>(*relu)(gpu->ctx(), ReluFwdArgs{1 << 20, bogus, bogus});
    gpu->synchronize();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "the kernel failed: %s\n", e.what());
  }
  const int gpu0[] = {0};
  const ContextHealth h = cuda_context_health(gpu0);
  std::fprintf(stderr, "lost=%d error=%s\n", int(h.lost), h.error.c_str());
  std::_Exit(h.lost ? 0 : 1);
}

TEST(GpuContextHealthDeathTest, AnIllegalAddressLosesTheContext) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no usable CUDA GPU: " << cuda::cuda_environment().error;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(lose_the_context_and_probe(), ::testing::ExitedWithCode(0),
              "lost=1 error=gpu:0: cudaErrorIllegalAddress");
}

}  // namespace
}  // namespace cnnb
