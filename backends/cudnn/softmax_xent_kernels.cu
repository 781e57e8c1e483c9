// One thread per sample for the loss, one per element for dlogits (softmax_xent_body.h).
#include "backends/cuda/launch.cuh"
#include "backends/cudnn/softmax_xent_body.h"
#include "backends/cudnn/softmax_xent_kernels.h"

namespace cnnb::cudnn {

void xent_from_logp(const ExecCtx& ctx, const float* logp, const int32_t* labels, int n, int classes, float* loss,
                    float* dlogits) {
  xent_from_logp_on(cuda::DeviceGrid{ctx, "softmax_xent/cudnn/cudnn"}, logp, labels, n, classes, loss, dlogits);
}

}  // namespace cnnb::cudnn
