// lrn_fwd / lrn_bwd (cuDNN's cross-channel LRN), cuda/naive: one thread per element; the backward
// gathers over the windows its channel belongs to. Launchers in naive_launchers.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void lrn_fwd_naive(const ExecCtx& ctx, const LrnFwdArgs& a) {
  lrn_fwd_naive_on(DeviceGrid{ctx, "lrn_fwd/cuda/naive"}, a);
}

void lrn_bwd_naive(const ExecCtx& ctx, const LrnBwdArgs& a) {
  lrn_bwd_naive_on(DeviceGrid{ctx, "lrn_bwd/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
