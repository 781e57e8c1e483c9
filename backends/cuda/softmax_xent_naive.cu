// softmax_xent, cuda/naive: one thread per sample computes its loss and its row of dlogits.
// Rows are short (the class count), so a thread per row is enough for a naive kernel.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_bodies.h"

namespace cnnb::cuda {

namespace {

__global__ void softmax_xent_kernel(int64_t n, SoftmaxXentArgs a) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) softmax_xent_row(a, int(i));
}

}  // namespace

void softmax_xent_naive(const ExecCtx& ctx, const SoftmaxXentArgs& a) {
  launch_grid(ctx, "softmax_xent/cuda/naive", softmax_xent_kernel, int64_t(a.n), a);
}

}  // namespace cnnb::cuda
