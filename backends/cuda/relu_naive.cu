// relu_fwd / relu_bwd, cuda/naive: one thread per element, bodies in naive_bodies.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"

namespace cnnb::cuda {

namespace {

__global__ void relu_fwd_kernel(int64_t n, ReluFwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.y[i] = relu_fwd_at(a, i);
}

__global__ void relu_bwd_kernel(int64_t n, ReluBwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dx[i] = relu_bwd_at(a, i);
}

}  // namespace

void relu_fwd_naive(const ExecCtx& ctx, const ReluFwdArgs& a) {
  launch_grid(ctx, "relu_fwd/cuda/naive", relu_fwd_kernel, a.n, a);
}

void relu_bwd_naive(const ExecCtx& ctx, const ReluBwdArgs& a) {
  launch_grid(ctx, "relu_bwd/cuda/naive", relu_bwd_kernel, a.n, a);
}

}  // namespace cnnb::cuda
