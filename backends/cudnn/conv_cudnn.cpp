// cudnn convolution: forward, backward-data and backward-filter with the legacy API that cuDNN 9
// still ships (deprecated, not removed). Descriptors and the three algorithms are chosen once per
// geometry (plans.cpp) and the replica's workspace is grown to the largest of the three. Bias with
// cudnnAddTensor, its gradient with cudnnConvolutionBackwardBias. alpha/beta are host floats;
// beta = 0 overwrites, as ops.h asks (cuDNN does not read the output then).
#include <cudnn.h>

#include "backends/cuda/cuda_ctx.h"
#include "backends/cuda/geometry_checks.h"
#include "backends/cudnn/check.h"
#include "backends/cudnn/plans.h"
#include "backends/ops.h"

namespace cnnb::cudnn {

namespace {

constexpr float kOne = 1.0f, kZero = 0.0f;

struct Prepared {
  cudnnHandle_t h;
  const ConvPlan& plan;
  void* workspace;
};

// The caller holds a guard on cu's device: choosing the algorithms runs cuDNN on the handle too.
Prepared prepare(CudaCtx& cu, const ConvGeom& g, const char* kernel) {
  cudnnHandle_t h = cu.cudnn();
  const ConvPlan& plan = cu.cudnn_plans().conv(h, g, kernel);
  return {h, plan, cu.workspace(plan.workspace)};
}

}  // namespace

void conv_fwd_cudnn(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const char* kernel = "conv_fwd/cudnn/cudnn";
  try {
    cuda::check_geometry(a.g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const Prepared p = prepare(cu, a.g, kernel);
    CNNB_CUDNN_CHECK(cudnnConvolutionForward(p.h, &kOne, p.plan.x.get(), a.x, p.plan.w.get(), a.w, p.plan.conv.get(),
                                             p.plan.fwd, p.workspace, p.plan.workspace, &kZero, p.plan.y.get(), a.y));
    // y += bias broadcast over n, p, q (beta 1 keeps the convolution's result).
    if (a.bias) CNNB_CUDNN_CHECK(cudnnAddTensor(p.h, &kOne, p.plan.bias.get(), a.bias, &kOne, p.plan.y.get(), a.y));
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void conv_bwd_data_cudnn(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  const char* kernel = "conv_bwd_data/cudnn/cudnn";
  try {
    cuda::check_geometry(a.g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const Prepared p = prepare(cu, a.g, kernel);
    CNNB_CUDNN_CHECK(cudnnConvolutionBackwardData(p.h, &kOne, p.plan.w.get(), a.w, p.plan.y.get(), a.dy,
                                                  p.plan.conv.get(), p.plan.bwd_data, p.workspace, p.plan.workspace,
                                                  &kZero, p.plan.x.get(), a.dx));
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void conv_bwd_filter_cudnn(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  const char* kernel = "conv_bwd_filter/cudnn/cudnn";
  try {
    cuda::check_geometry(a.g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const cuda::ScopedDevice on(cu.device);  // the handle's device, whatever the calling thread has current
    const Prepared p = prepare(cu, a.g, kernel);
    CNNB_CUDNN_CHECK(cudnnConvolutionBackwardFilter(p.h, &kOne, p.plan.x.get(), a.x, p.plan.y.get(), a.dy,
                                                    p.plan.conv.get(), p.plan.bwd_filter, p.workspace,
                                                    p.plan.workspace, &kZero, p.plan.w.get(), a.dw));
    if (a.dbias)
      CNNB_CUDNN_CHECK(
          cudnnConvolutionBackwardBias(p.h, &kOne, p.plan.y.get(), a.dy, &kZero, p.plan.bias.get(), a.dbias));
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cudnn
