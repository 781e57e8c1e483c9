// cuda-gemm's kernels besides cuBLAS: im2col/col2im over a chunk of images (one thread per column or
// dx element), the bias broadcast (one thread per output) and the bias gradient (one block per
// channel, fixed-order reduction). Bodies in lowering_bodies.h.
#include "backends/cublas/lowering_kernels.h"
#include "backends/cuda/launch.cuh"

namespace cnnb::cublas {

namespace {

// One block per channel (a block loops when there are more channels than blocks). The loop bounds and
// every __syncthreads() are the same for all threads of the block.
__global__ void bias_grad_kernel(BiasGrad f, int count) {
  __shared__ float partial[BiasGrad::kLanes];
  const int lane = int(threadIdx.x);
  for (int ch = int(blockIdx.x); ch < count; ch += int(gridDim.x))
    for (int phase = 0; phase < BiasGrad::kPhases; ++phase) {
      f(ch, lane, phase, partial);
      __syncthreads();
    }
}

}  // namespace

void launch_grid(const ExecCtx& ctx, int64_t n, const Im2colChunk& f) {
  cuda::DeviceGrid{ctx, "im2col"}(n, f);
}

void launch_grid(const ExecCtx& ctx, int64_t n, const Col2imChunk& f) {
  cuda::DeviceGrid{ctx, "col2im"}(n, f);
}

void launch_grid(const ExecCtx& ctx, int64_t n, const AddBias& f) {
  cuda::DeviceGrid{ctx, "add_bias"}(n, f);
}

void launch_blocks(const ExecCtx& ctx, int count, const BiasGrad& f) {
  CudaCtx& cu = cuda::cuda_of(ctx, "bias_grad");
  if (count <= 0) return;
  const int blocks = count < 65535 ? count : 65535;
  const cuda::ScopedDevice on(cu.device);
  bias_grad_kernel<<<blocks, BiasGrad::kLanes, 0, cu.stream>>>(f, count);
  CNNB_CUDA_CHECK_LAUNCH();
}

}  // namespace cnnb::cublas
