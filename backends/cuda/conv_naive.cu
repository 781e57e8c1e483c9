// conv_fwd / conv_bwd_data / conv_bwd_filter, cuda/naive: one thread per output element
// (y, dx, dw, dbias); launchers in naive_launchers.h, bodies in naive_bodies.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void conv_fwd_naive(const ExecCtx& ctx, const ConvFwdArgs& a) {
  conv_fwd_naive_on(DeviceGrid{ctx, "conv_fwd/cuda/naive"}, a);
}

void conv_bwd_data_naive(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  conv_bwd_data_naive_on(DeviceGrid{ctx, "conv_bwd_data/cuda/naive"}, a);
}

void conv_bwd_filter_naive(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  conv_bwd_filter_naive_on(DeviceGrid{ctx, "conv_bwd_filter/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
