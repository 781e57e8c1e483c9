// dense_fwd / dense_bwd, cuda/naive: one thread per element of y, dx, dw and dbias; launchers in
// naive_launchers.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void dense_fwd_naive(const ExecCtx& ctx, const DenseFwdArgs& a) {
  dense_fwd_naive_on(DeviceGrid{ctx, "dense_fwd/cuda/naive"}, a);
}

void dense_bwd_naive(const ExecCtx& ctx, const DenseBwdArgs& a) {
  dense_bwd_naive_on(DeviceGrid{ctx, "dense_bwd/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
