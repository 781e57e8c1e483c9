// cudnn softmax cross-entropy: cudnnSoftmaxForward (LOG, INSTANCE; not deprecated in 9.x) gives the
// rows' log-probabilities in the replica's workspace, then one small kernel each writes the per-sample
// losses and dlogits (softmax_xent_body.h).
#include <cudnn.h>

#include "backends/cuda/cuda_ctx.h"
#include "backends/cudnn/check.h"
#include "backends/cudnn/plans.h"
#include "backends/cudnn/softmax_xent_kernels.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cudnn {

void softmax_xent_cudnn(const ExecCtx& ctx, const SoftmaxXentArgs& a) {
  const char* kernel = "softmax_xent/cudnn/cudnn";
  try {
    CNNB_CHECK(a.n > 0 && a.classes > 0, "bad geometry n={} classes={}", a.n, a.classes);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    if (!a.loss && !a.dlogits) return;
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const SoftmaxPlan& plan = cu.cudnn_plans().softmax(a.n, a.classes);
    float* logp = static_cast<float*>(cu.workspace(size_t(a.n) * size_t(a.classes) * sizeof(float)));
    const float one = 1.0f, zero = 0.0f;
    // ACCURATE's max subtraction, then the log (cuDNN developer guide, cudnnSoftmaxAlgorithm_t).
    CNNB_CUDNN_CHECK(cudnnSoftmaxForward(cu.cudnn(), CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE, &one,
                                         plan.logits.get(), a.logits, &zero, plan.logits.get(), logp));
    xent_from_logp(ctx, logp, a.labels, a.n, a.classes, a.loss, a.dlogits);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cudnn
