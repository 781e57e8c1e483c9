// sgd_update, cuda/naive: one thread per parameter, in place.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"
#include "core/error.h"

namespace cnnb::cuda {

namespace {

__global__ void sgd_update_kernel(int64_t n, SgdArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) sgd_update_at(a, i);
}

}  // namespace

void sgd_update_naive(const ExecCtx& ctx, const SgdArgs& a) {
  CNNB_CHECK(a.velocity || a.h.momentum == 0.0, "sgd_update/cuda/naive: momentum {} needs a velocity buffer, got none",
             a.h.momentum);
  launch_grid(ctx, "sgd_update/cuda/naive", sgd_update_kernel, a.n, a);
}

}  // namespace cnnb::cuda
