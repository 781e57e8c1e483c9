// cuda-gemm fully connected layer: each product is one cublasSgemm over the whole batch, with the
// GemmCalls of backends/lowering.h (shared with cpu-gemm); bias and its gradient are small kernels.
#include "backends/cublas/lowering_kernels.h"
#include "backends/cublas/sgemm.h"
#include "backends/cuda/cuda_ctx.h"
#include "backends/lowering.h"
#include "backends/ops.h"

namespace cnnb::cublas {

void dense_fwd_gemm(const ExecCtx& ctx, const DenseFwdArgs& a) {
  const char* kernel = "dense_fwd/cublas/gemm";
  try {
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    sgemm(cu, lowering::dense_fwd(a.g), a.w, a.x, a.y);
    if (a.bias) add_bias(ctx, a.y, a.bias, a.g.n, a.g.out, 1);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void dense_bwd_gemm(const ExecCtx& ctx, const DenseBwdArgs& a) {
  const char* kernel = "dense_bwd/cublas/gemm";
  try {
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    if (a.dx) sgemm(cu, lowering::dense_bwd_data(a.g), a.w, a.dy, a.dx);  // null for a first layer
    sgemm(cu, lowering::dense_bwd_weights(a.g), a.x, a.dy, a.dw);
    if (a.dbias) bias_grad(ctx, a.dy, a.dbias, a.g.n, a.g.out, 1);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cublas
