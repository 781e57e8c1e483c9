// cudnn local response normalisation across channels (cudnnLRNCrossChannel*, not deprecated in 9.x).
// ops.h's LRN is cuDNN's definition, so the parameters pass through unchanged: alpha is NOT divided by
// the size here, cuDNN divides it itself (lrn_params.h).
#include <cudnn.h>

#include "backends/cuda/cuda_ctx.h"
#include "backends/cudnn/check.h"
#include "backends/cudnn/plans.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cudnn {

namespace {

constexpr float kOne = 1.0f, kZero = 0.0f;

void check_lrn(const LrnGeom& g, const char* kernel) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0, "{}: bad geometry n={} c={} h={} w={}", kernel, g.n, g.c, g.h,
             g.w);
}

}  // namespace

void lrn_fwd_cudnn(const ExecCtx& ctx, const LrnFwdArgs& a) {
  const char* kernel = "lrn_fwd/cudnn/cudnn";
  try {
    check_lrn(a.g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const LrnPlan& plan = cu.cudnn_plans().lrn(a.g, kernel);
    CNNB_CUDNN_CHECK(cudnnLRNCrossChannelForward(cu.cudnn(), plan.lrn.get(), CUDNN_LRN_CROSS_CHANNEL_DIM1, &kOne,
                                                 plan.x.get(), a.x, &kZero, plan.x.get(), a.y));
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void lrn_bwd_cudnn(const ExecCtx& ctx, const LrnBwdArgs& a) {
  const char* kernel = "lrn_bwd/cudnn/cudnn";
  try {
    check_lrn(a.g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const LrnPlan& plan = cu.cudnn_plans().lrn(a.g, kernel);
    // Argument order (cudnn_ops.h): y, dy, x, then dx; every tensor has x's shape.
    CNNB_CUDNN_CHECK(cudnnLRNCrossChannelBackward(cu.cudnn(), plan.lrn.get(), CUDNN_LRN_CROSS_CHANNEL_DIM1, &kOne,
                                                  plan.x.get(), a.y, plan.x.get(), a.dy, plan.x.get(), a.x, &kZero,
                                                  plan.x.get(), a.dx));
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cudnn
