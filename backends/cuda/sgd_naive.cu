// sgd_update, cuda/naive: one thread per parameter, in place; launcher in naive_launchers.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void sgd_update_naive(const ExecCtx& ctx, const SgdArgs& a) {
  sgd_update_naive_on(DeviceGrid{ctx, "sgd_update/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
