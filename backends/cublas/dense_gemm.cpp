// cuda-gemm fully connected layer: flows.h's dense flows with cuBLAS (cublas_exec.h); each product is
// one GEMM over the whole batch with the GemmCalls of backends/lowering.h (shared with cpu-gemm).
#include "backends/cublas/cublas_exec.h"
#include "backends/cublas/flows.h"
#include "backends/ops.h"

namespace cnnb::cublas {

void dense_fwd_gemm(const ExecCtx& ctx, const DenseFwdArgs& a) {
  const char* kernel = "dense_fwd/cublas/gemm";
  try {
    CublasExec ex(kernel, ctx);
    dense_fwd_gemm_on(ex, a);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void dense_bwd_gemm(const ExecCtx& ctx, const DenseBwdArgs& a) {
  const char* kernel = "dense_bwd/cublas/gemm";
  try {
    CublasExec ex(kernel, ctx);
    dense_bwd_gemm_on(ex, a);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cublas
