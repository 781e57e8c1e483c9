#pragma once
// Launching the one-thread-per-output kernels: a 64-bit grid-stride loop over n outputs on the
// replica's stream, with the replica's device current for the launch, checked after every launch.
// nvcc only.
#include <cstdint>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"

namespace cnnb::cuda {

constexpr int kBlockThreads = 256;

// blockIdx.x * blockDim.x is a 32-bit product: widen before multiplying.
__device__ inline int64_t grid_first() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t grid_step() { return int64_t(gridDim.x) * blockDim.x; }

// Up to 32 blocks per SM (a few waves of full occupancy); larger n is covered by the grid-stride loop.
inline int grid_blocks(const CudaCtx& cu, int64_t n) {
  const int64_t cap = int64_t(cu.sm_count > 0 ? cu.sm_count : 1) * 32;
  const int64_t want = (n + kBlockThreads - 1) / kBlockThreads;
  return int(want < cap ? want : cap);
}

// kernel(n, args...) over n outputs; nothing is launched for n == 0 (a 0-block grid is an error).
// The calling thread may have any device current: a launch goes to the current device, so the
// replica's is made current for it and the caller's restored afterwards.
template <class... KernelArgs, class... Passed>
void launch_grid(const ExecCtx& ctx, const char* kernel_name, void (*kernel)(int64_t, KernelArgs...), int64_t n,
                 const Passed&... args) {
  CudaCtx& cu = cuda_of(ctx, kernel_name);
  if (n <= 0) return;
  const ScopedDevice on(cu.device);
  kernel<<<grid_blocks(cu, n), kBlockThreads, 0, cu.stream>>>(n, args...);
  CNNB_CUDA_CHECK_LAUNCH();
}

// f(i) for every i in [0, n): the kernel behind every element functor (F has a CNNB_HD operator()(int64_t)).
template <class F>
__global__ void each_kernel(int64_t n, F f) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) f(i);
}

// The device Grid of the launchers in naive_launchers.h: one each_kernel launch per call. host_grid.h
// has its host twin.
struct DeviceGrid {
  const ExecCtx& ctx;
  const char* kernel;  // op/family/variant, for messages
  template <class F>
  void operator()(int64_t n, const F& f) const {
    cuda::launch_grid(ctx, kernel, each_kernel<F>, n, f);
  }
};

}  // namespace cnnb::cuda
