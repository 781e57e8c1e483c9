#pragma once
// The cuda/naive launchers, written once over a Grid: their host-side checks, then which element
// functors (naive_bodies.h) run over how many elements, optional pointers included. A Grid has a
// `kernel` name (op/family/variant) and runs f(i) for every i in [0, n) when called as grid(n, f):
// launch.cuh's DeviceGrid launches one kernel per call, host_grid.h's HostGrid loops on the host, which
// is how tests/test_cuda_twins.cpp runs these exact launchers against cpu-ref on every op case.
// C++17, and plain C++ when not compiled by nvcc.
#include <cstdint>

#include "backends/cuda/geometry_checks.h"
#include "backends/cuda/naive_bodies.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cuda {

template <class Grid>
void conv_fwd_naive_on(const Grid& grid, const ConvFwdArgs& a) {
  check_geometry(a.g, grid.kernel);
  grid(a.g.y_size(), ConvFwdY{a});
}

template <class Grid>
void conv_bwd_data_naive_on(const Grid& grid, const ConvBwdDataArgs& a) {
  check_geometry(a.g, grid.kernel);
  grid(a.g.x_size(), ConvBwdDataDx{a});
}

template <class Grid>
void conv_bwd_filter_naive_on(const Grid& grid, const ConvBwdFilterArgs& a) {
  check_geometry(a.g, grid.kernel);
  grid(a.g.w_size(), ConvBwdFilterDw{a});
  if (a.dbias) grid(int64_t(a.g.k), ConvBwdFilterDbias{a});
}

template <class Grid>
void relu_fwd_naive_on(const Grid& grid, const ReluFwdArgs& a) {
  grid(a.n, ReluFwdY{a});
}

template <class Grid>
void relu_bwd_naive_on(const Grid& grid, const ReluBwdArgs& a) {
  grid(a.n, ReluBwdDx{a});
}

template <class Grid>
void pool_fwd_naive_on(const Grid& grid, const PoolFwdArgs& a) {
  check_geometry(a.g, grid.kernel);
  grid(a.g.y_size(), PoolFwdY{a});
}

template <class Grid>
void pool_bwd_naive_on(const Grid& grid, const PoolBwdArgs& a) {
  check_geometry(a.g, grid.kernel);
  grid(a.g.x_size(), PoolBwdDx{a});
}

template <class Grid>
void lrn_fwd_naive_on(const Grid& grid, const LrnFwdArgs& a) {
  grid(a.g.x_size(), LrnFwdY{a});
}

template <class Grid>
void lrn_bwd_naive_on(const Grid& grid, const LrnBwdArgs& a) {
  grid(a.g.x_size(), LrnBwdDx{a});
}

template <class Grid>
void dense_fwd_naive_on(const Grid& grid, const DenseFwdArgs& a) {
  grid(int64_t(a.g.n) * a.g.out, DenseFwdY{a});
}

// dx is null for a network's first layer, dbias for a layer without bias.
template <class Grid>
void dense_bwd_naive_on(const Grid& grid, const DenseBwdArgs& a) {
  if (a.dx) grid(int64_t(a.g.n) * a.g.in, DenseBwdDx{a});
  grid(int64_t(a.g.out) * a.g.in, DenseBwdDw{a});
  if (a.dbias) grid(int64_t(a.g.out), DenseBwdDbias{a});
}

// One thread per sample; the body skips a null loss or dlogits itself.
template <class Grid>
void softmax_xent_naive_on(const Grid& grid, const SoftmaxXentArgs& a) {
  grid(int64_t(a.n), SoftmaxXentRows{a});
}

template <class Grid>
void sgd_update_naive_on(const Grid& grid, const SgdArgs& a) {
  CNNB_CHECK(a.velocity || a.h.momentum == 0.0, "{}: momentum {} needs a velocity buffer, got none", grid.kernel,
             a.h.momentum);
  grid(a.n, SgdStep{a});
}

template <class Grid>
void adam_update_naive_on(const Grid& grid, const AdamArgs& a) {
  CNNB_CHECK(a.h.step >= 1, "{}: the step count starts at 1, got {}", grid.kernel, a.h.step);
  grid(a.n, AdamStep{a, adam_coef(a.h)});
}

}  // namespace cnnb::cuda
