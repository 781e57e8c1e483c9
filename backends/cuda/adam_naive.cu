// adam_update, cuda/naive: one thread per parameter, in place; bias corrections come from the host.
// Launcher in naive_launchers.h.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/naive_launchers.h"

namespace cnnb::cuda {

void adam_update_naive(const ExecCtx& ctx, const AdamArgs& a) {
  adam_update_naive_on(DeviceGrid{ctx, "adam_update/cuda/naive"}, a);
}

}  // namespace cnnb::cuda
