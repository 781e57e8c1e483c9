// pool_fwd / pool_bwd (max), cuda/naive: one thread per y element, and per dx element for the
// backward, which re-finds each covering window's first maximum instead of scattering into dx.
// Launchers in naive_launchers.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void pool_fwd_naive(const ExecCtx& ctx, const PoolFwdArgs& a) {
  pool_fwd_naive_on(DeviceGrid{ctx, "pool_fwd/cuda/naive"}, a);
}

void pool_bwd_naive(const ExecCtx& ctx, const PoolBwdArgs& a) {
  pool_bwd_naive_on(DeviceGrid{ctx, "pool_bwd/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
