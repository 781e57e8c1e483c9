// dense_fwd / dense_bwd, cuda/naive: one thread per element of y, dx, dw and dbias.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"

namespace cnnb::cuda {

namespace {

__global__ void dense_fwd_kernel(int64_t n, DenseFwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.y[i] = dense_fwd_at(a, i);
}

__global__ void dense_bwd_data_kernel(int64_t n, DenseBwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dx[i] = dense_bwd_data_at(a, i);
}

__global__ void dense_bwd_filter_kernel(int64_t n, DenseBwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dw[i] = dense_bwd_filter_at(a, i);
}

__global__ void dense_bwd_bias_kernel(int64_t n, DenseBwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dbias[i] = dense_bwd_bias_at(a, int(i));
}

}  // namespace

void dense_fwd_naive(const ExecCtx& ctx, const DenseFwdArgs& a) {
  launch_grid(ctx, "dense_fwd/cuda/naive", dense_fwd_kernel, int64_t(a.g.n) * a.g.out, a);
}

void dense_bwd_naive(const ExecCtx& ctx, const DenseBwdArgs& a) {
  const char* name = "dense_bwd/cuda/naive";
  if (a.dx) launch_grid(ctx, name, dense_bwd_data_kernel, int64_t(a.g.n) * a.g.in, a);  // null for the first layer
  launch_grid(ctx, name, dense_bwd_filter_kernel, int64_t(a.g.out) * a.g.in, a);
  if (a.dbias) launch_grid(ctx, name, dense_bwd_bias_kernel, int64_t(a.g.out), a);
}

}  // namespace cnnb::cuda
