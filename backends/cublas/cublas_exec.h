#pragma once
// The GPU executor of flows.h: cuBLAS for the GEMMs, lowering_kernels.cu for the grids and the bias
// gradient, the replica's workspace for the column matrices. Host code.
#include <cstddef>
#include <cstdint>

#include "backends/cublas/lowering_kernels.h"
#include "backends/cublas/sgemm.h"
#include "backends/cuda/cuda_ctx.h"
#include "backends/lowering.h"

namespace cnnb::cublas {

struct CublasExec {
  const char* kernel;
  const ExecCtx& ctx;
  CudaCtx& cu;

  CublasExec(const char* kernel_name, const ExecCtx& c) : kernel(kernel_name), ctx(c), cu(cuda::cuda_of(c, kernel_name)) {}

  float* workspace(size_t bytes) { return static_cast<float*>(cu.workspace(bytes)); }
  void gemm(const lowering::GemmCall& g, const float* a, const float* b, float* c) { sgemm(cu, g, a, b, c); }
  template <class F>
  void grid(int64_t n, const F& f) {
    launch_grid(ctx, n, f);
  }
  void blocks(int count, const BiasGrad& f) { launch_blocks(ctx, count, f); }
};

}  // namespace cnnb::cublas
