// cudnn max pooling, CUDNN_POOLING_MAX_DETERMINISTIC (plans.cpp). ops.h's rules and what is known of
// cuDNN's (README.md in this folder): padded cells never win (cuDNN treats them as -inf; documented by
// behaviour, not by NVIDIA's text), and pad < window is checked so every window holds a real cell.
// Which of several equal maxima receives the gradient is not documented by NVIDIA; ops.h asks for
// the first in row-major window order, and the GPU suite's integer cases (many ties) check it.
#include <cudnn.h>

#include "backends/cuda/cuda_ctx.h"
#include "backends/cuda/geometry_checks.h"
#include "backends/cudnn/check.h"
#include "backends/cudnn/plans.h"
#include "backends/ops.h"

namespace cnnb::cudnn {

namespace {
constexpr float kOne = 1.0f, kZero = 0.0f;
}

void pool_fwd_cudnn(const ExecCtx& ctx, const PoolFwdArgs& a) {
  const char* kernel = "pool_fwd/cudnn/cudnn";
  try {
    cuda::check_geometry(a.g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const PoolPlan& plan = cu.cudnn_plans().pool(a.g, kernel);
    CNNB_CUDNN_CHECK(cudnnPoolingForward(cu.cudnn(), plan.pool.get(), &kOne, plan.x.get(), a.x, &kZero, plan.y.get(), a.y));
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void pool_bwd_cudnn(const ExecCtx& ctx, const PoolBwdArgs& a) {
  const char* kernel = "pool_bwd/cudnn/cudnn";
  try {
    cuda::check_geometry(a.g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const PoolPlan& plan = cu.cudnn_plans().pool(a.g, kernel);
    // cuDNN finds the maxima again from x and y (the forward's input and output): both must be intact.
    CNNB_CUDNN_CHECK(cudnnPoolingBackward(cu.cudnn(), plan.pool.get(), &kOne, plan.y.get(), a.y, plan.y.get(), a.dy,
                                          plan.x.get(), a.x, &kZero, plan.x.get(), a.dx));
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cudnn
