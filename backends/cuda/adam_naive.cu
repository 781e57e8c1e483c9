// adam_update, cuda/naive: one thread per parameter, in place; bias corrections come from the host.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"
#include "core/error.h"

namespace cnnb::cuda {

namespace {

__global__ void adam_update_kernel(int64_t n, AdamArgs a, AdamCoef k) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) adam_update_at(a, k, i);
}

}  // namespace

void adam_update_naive(const ExecCtx& ctx, const AdamArgs& a) {
  CNNB_CHECK(a.h.step >= 1, "adam_update/cuda/naive: the step count starts at 1, got {}", a.h.step);
  launch_grid(ctx, "adam_update/cuda/naive", adam_update_kernel, a.n, a, adam_coef(a.h));
}

}  // namespace cnnb::cuda
