// pool_fwd / pool_bwd (max), cuda/naive: one thread per y element, and per dx element for the
// backward, which re-finds each covering window's first maximum instead of scattering into dx.
#include "backends/cuda/geometry_checks.h"
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"

namespace cnnb::cuda {

namespace {

__global__ void pool_fwd_kernel(int64_t n, PoolFwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.y[i] = pool_fwd_at(a, i);
}

__global__ void pool_bwd_kernel(int64_t n, PoolBwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dx[i] = pool_bwd_at(a, i);
}

}  // namespace

void pool_fwd_naive(const ExecCtx& ctx, const PoolFwdArgs& a) {
  check_geometry(a.g, "pool_fwd/cuda/naive");
  launch_grid(ctx, "pool_fwd/cuda/naive", pool_fwd_kernel, a.g.y_size(), a);
}

void pool_bwd_naive(const ExecCtx& ctx, const PoolBwdArgs& a) {
  check_geometry(a.g, "pool_bwd/cuda/naive");
  launch_grid(ctx, "pool_bwd/cuda/naive", pool_bwd_kernel, a.g.x_size(), a);
}

}  // namespace cnnb::cuda
