// relu_fwd / relu_bwd, cuda/naive: one thread per element; launchers in naive_launchers.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void relu_fwd_naive(const ExecCtx& ctx, const ReluFwdArgs& a) {
  relu_fwd_naive_on(DeviceGrid{ctx, "relu_fwd/cuda/naive"}, a);
}

void relu_bwd_naive(const ExecCtx& ctx, const ReluBwdArgs& a) {
  relu_bwd_naive_on(DeviceGrid{ctx, "relu_bwd/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
