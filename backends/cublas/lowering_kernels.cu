// cuda-gemm's kernels besides cuBLAS: im2col/col2im over a chunk of images (one thread per column or
// dx element), the bias broadcast (one thread per output) and the bias gradient (one block per
// channel, fixed-order reduction). Bodies in lowering_bodies.h.
#include "backends/cublas/lowering_bodies.h"
#include "backends/cublas/lowering_kernels.h"
#include "backends/cuda/launch.cuh"

namespace cnnb::cublas {

namespace {

constexpr int kBiasGradLanes = 256;  // a power of two: bias_grad_tree halves it
static_assert((kBiasGradLanes & (kBiasGradLanes - 1)) == 0, "the tree reduction needs a power of two");

__global__ void im2col_kernel(int64_t n, lowering::ConvIdx g, const float* x, float* cols) {
  for (int64_t e = cuda::grid_first(); e < n; e += cuda::grid_step()) cols[e] = im2col_chunk_at(g, x, e);
}

__global__ void col2im_kernel(int64_t n, lowering::ConvIdx g, const float* cols, float* dx) {
  for (int64_t e = cuda::grid_first(); e < n; e += cuda::grid_step()) dx[e] = col2im_chunk_at(g, cols, e);
}

__global__ void add_bias_kernel(int64_t n, float* y, const float* bias, int k, int64_t pq) {
  for (int64_t e = cuda::grid_first(); e < n; e += cuda::grid_step()) y[e] += bias[bias_channel(e, k, pq)];
}

// One block per channel (a block loops when there are more channels than blocks). The loop bound and
// every __syncthreads() condition are the same for all threads of the block.
__global__ void bias_grad_kernel(const float* dy, float* dbias, int n, int k, int64_t pq) {
  __shared__ float partial[kBiasGradLanes];
  const int lane = int(threadIdx.x);
  for (int ch = int(blockIdx.x); ch < k; ch += int(gridDim.x)) {
    partial[lane] = bias_grad_lane(dy, n, k, pq, ch, lane, kBiasGradLanes);
    __syncthreads();
    for (int s = kBiasGradLanes / 2; s > 0; s /= 2) {
      if (lane < s) partial[lane] += partial[lane + s];
      __syncthreads();
    }
    if (lane == 0) dbias[ch] = partial[0];
    __syncthreads();  // partial[0] is read before the next channel overwrites it
  }
}

}  // namespace

void im2col_images(const ExecCtx& ctx, const lowering::ConvIdx& g, const float* x, int images, float* cols) {
  cuda::launch_grid(ctx, "im2col", im2col_kernel, int64_t(images) * g.rows() * g.cols(), g, x, cols);
}

void col2im_images(const ExecCtx& ctx, const lowering::ConvIdx& g, const float* cols, int images, float* dx) {
  cuda::launch_grid(ctx, "col2im", col2im_kernel, int64_t(images) * g.image(), g, cols, dx);
}

void add_bias(const ExecCtx& ctx, float* y, const float* bias, int n, int k, int64_t pq) {
  cuda::launch_grid(ctx, "add_bias", add_bias_kernel, int64_t(n) * k * pq, y, bias, k, pq);
}

void bias_grad(const ExecCtx& ctx, const float* dy, float* dbias, int n, int k, int64_t pq) {
  cudaStream_t stream = cuda::stream_of(ctx, "bias_grad");
  if (k <= 0) return;
  const int blocks = k < 65535 ? k : 65535;
  bias_grad_kernel<<<blocks, kBiasGradLanes, 0, stream>>>(dy, dbias, n, k, pq);
  CNNB_CUDA_CHECK_LAUNCH();
}

}  // namespace cnnb::cublas
