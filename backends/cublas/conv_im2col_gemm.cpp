// cuda-gemm convolution: flows.h's im2col + GEMM flows with cuBLAS and the replica's workspace
// (cublas_exec.h). The GEMM arguments are lowering.h's, the ones cpu-gemm gives OpenBLAS.
#include "backends/cublas/cublas_exec.h"
#include "backends/cublas/flows.h"
#include "backends/ops.h"

namespace cnnb::cublas {

void conv_fwd_im2col_gemm(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const char* kernel = "conv_fwd/cublas/im2col_gemm";
  try {
    CublasExec ex(kernel, ctx);
    conv_fwd_im2col_gemm_on(ex, a);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void conv_bwd_data_im2col_gemm(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  const char* kernel = "conv_bwd_data/cublas/im2col_gemm";
  try {
    CublasExec ex(kernel, ctx);
    conv_bwd_data_im2col_gemm_on(ex, a);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void conv_bwd_filter_im2col_gemm(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  const char* kernel = "conv_bwd_filter/cublas/im2col_gemm";
  try {
    CublasExec ex(kernel, ctx);
    conv_bwd_filter_im2col_gemm_on(ex, a);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cublas
