// lrn_fwd / lrn_bwd (cuDNN's cross-channel LRN), cuda/naive: one thread per element; the backward
// gathers over the windows its channel belongs to.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"

namespace cnnb::cuda {

namespace {

__global__ void lrn_fwd_kernel(int64_t n, LrnFwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.y[i] = lrn_fwd_at(a, i);
}

__global__ void lrn_bwd_kernel(int64_t n, LrnBwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dx[i] = lrn_bwd_at(a, i);
}

}  // namespace

void lrn_fwd_naive(const ExecCtx& ctx, const LrnFwdArgs& a) {
  launch_grid(ctx, "lrn_fwd/cuda/naive", lrn_fwd_kernel, a.g.x_size(), a);
}

void lrn_bwd_naive(const ExecCtx& ctx, const LrnBwdArgs& a) {
  launch_grid(ctx, "lrn_bwd/cuda/naive", lrn_bwd_kernel, a.g.x_size(), a);
}

}  // namespace cnnb::cuda
