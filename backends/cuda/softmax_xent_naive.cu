// softmax_xent, cuda/naive: one thread per sample computes its loss and its row of dlogits.
// Rows are short (the class count), so a thread per row is enough for a naive kernel.
// Launcher in naive_launchers.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void softmax_xent_naive(const ExecCtx& ctx, const SoftmaxXentArgs& a) {
  softmax_xent_naive_on(DeviceGrid{ctx, "softmax_xent/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
