// conv_fwd / conv_bwd_data / conv_bwd_filter, cuda/naive: one thread per output element
// (y, dx, dw, dbias), bodies in naive_bodies.h.
#include "backends/cuda/geometry_checks.h"
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"

namespace cnnb::cuda {

namespace {

__global__ void conv_fwd_kernel(int64_t n, ConvFwdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.y[i] = conv_fwd_at(a, i);
}

__global__ void conv_bwd_data_kernel(int64_t n, ConvBwdDataArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dx[i] = conv_bwd_data_at(a, i);
}

__global__ void conv_bwd_filter_kernel(int64_t n, ConvBwdFilterArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dw[i] = conv_bwd_filter_at(a, i);
}

__global__ void conv_bwd_bias_kernel(int64_t n, ConvBwdFilterArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) a.dbias[i] = conv_bwd_bias_at(a, int(i));
}

}  // namespace

void conv_fwd_naive(const ExecCtx& ctx, const ConvFwdArgs& a) {
  check_geometry(a.g, "conv_fwd/cuda/naive");
  launch_grid(ctx, "conv_fwd/cuda/naive", conv_fwd_kernel, a.g.y_size(), a);
}

void conv_bwd_data_naive(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  check_geometry(a.g, "conv_bwd_data/cuda/naive");
  launch_grid(ctx, "conv_bwd_data/cuda/naive", conv_bwd_data_kernel, a.g.x_size(), a);
}

void conv_bwd_filter_naive(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  const char* name = "conv_bwd_filter/cuda/naive";
  check_geometry(a.g, name);
  launch_grid(ctx, name, conv_bwd_filter_kernel, a.g.w_size(), a);
  if (a.dbias) launch_grid(ctx, name, conv_bwd_bias_kernel, int64_t(a.g.k), a);
}

}  // namespace cnnb::cuda
