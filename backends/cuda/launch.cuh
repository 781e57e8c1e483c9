#pragma once
// Launching the one-thread-per-output kernels: a 64-bit grid-stride loop over n outputs on the
// replica's stream, checked after every launch. nvcc only.
#include <cstdint>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"

namespace cnnb::cuda {

constexpr int kBlockThreads = 256;

// blockIdx.x * blockDim.x is a 32-bit product: widen before multiplying.
__device__ inline int64_t grid_first() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t grid_step() { return int64_t(gridDim.x) * blockDim.x; }

// Up to 32 blocks per SM (a few waves of full occupancy); larger n is covered by the grid-stride loop.
inline int grid_blocks(const ExecCtx& ctx, int64_t n) {
  const int64_t cap = int64_t(ctx.cuda->sm_count > 0 ? ctx.cuda->sm_count : 1) * 32;
  const int64_t want = (n + kBlockThreads - 1) / kBlockThreads;
  return int(want < cap ? want : cap);
}

// kernel(n, args...) over n outputs; nothing is launched for n == 0 (a 0-block grid is an error).
template <class... KernelArgs, class... Passed>
void launch_grid(const ExecCtx& ctx, const char* kernel_name, void (*kernel)(int64_t, KernelArgs...), int64_t n,
                 const Passed&... args) {
  cudaStream_t stream = stream_of(ctx, kernel_name);
  if (n <= 0) return;
  kernel<<<grid_blocks(ctx, n), kBlockThreads, 0, stream>>>(n, args...);
  CNNB_CUDA_CHECK_LAUNCH();
}

}  // namespace cnnb::cuda
