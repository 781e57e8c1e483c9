// One thread per sample for the loss, one per element for dlogits (softmax_xent_body.h).
#include "backends/cuda/launch.cuh"
#include "backends/cudnn/softmax_xent_body.h"
#include "backends/cudnn/softmax_xent_kernels.h"

namespace cnnb::cudnn {

namespace {

__global__ void xent_loss_kernel(int64_t n, const float* logp, const int32_t* labels, int classes, float* loss) {
  for (int64_t i = cuda::grid_first(); i < n; i += cuda::grid_step()) loss[i] = xent_loss_at(logp, labels, classes, i);
}

__global__ void xent_dlogits_kernel(int64_t count, const float* logp, const int32_t* labels, int n, int classes,
                                    float* dlogits) {
  for (int64_t e = cuda::grid_first(); e < count; e += cuda::grid_step())
    dlogits[e] = xent_dlogit_at(logp, labels, n, classes, e);
}

}  // namespace

void xent_from_logp(const ExecCtx& ctx, const float* logp, const int32_t* labels, int n, int classes, float* loss,
                    float* dlogits) {
  if (loss) cuda::launch_grid(ctx, "softmax_xent loss", xent_loss_kernel, int64_t(n), logp, labels, classes, loss);
  if (dlogits)
    cuda::launch_grid(ctx, "softmax_xent dlogits", xent_dlogits_kernel, int64_t(n) * classes, logp, labels, n, classes,
                      dlogits);
}

}  // namespace cnnb::cudnn
