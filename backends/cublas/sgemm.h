#pragma once
// The one place cuda-gemm issues a GEMM: a lowering::GemmCall (column-major BLAS terms, shared with
// cpu-gemm and checked on the host by tests/test_lowering.cpp) handed to cublasSgemm. Host code only.
#include <cublas_v2.h>

#include <string>

#include "backends/lowering.h"

namespace cnnb {
struct CudaCtx;
}

namespace cnnb::cublas {

// cublasSgemm's arguments in its parameter order (cublas_api.h, cublasSgemm_v2), minus the handle and
// the pointers.
struct SgemmArgs {
  cublasOperation_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
  int m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  int lda = 0, ldb = 0;
  float beta = 0.0f;
  int ldc = 0;
};

// Field for field: GemmCall is already in cuBLAS's column-major convention (the row-major operand swap
// happened in lowering.h), so nothing is reordered here. Kept separate so the host test can run these
// exact arguments through a GEMM written from cuBLAS's definition.
SgemmArgs sgemm_args(const lowering::GemmCall& g);

// Empty when cublasSgemm accepts the arguments; else the condition it would answer with
// CUBLAS_STATUS_INVALID_VALUE (cuBLAS documentation, cublas<t>gemm(): m, n or k < 0;
// lda < max(1, m) with transa == N, else < max(1, k); ldb < max(1, k) with transb == N, else
// < max(1, n); ldc < max(1, m)). Zero sizes are legal for cuBLAS but never meant here, so refused too.
std::string invalid_reason(const SgemmArgs& a);

// sgemm_args(g), or a throw naming invalid_reason when cuBLAS would refuse them.
SgemmArgs checked_sgemm_args(const lowering::GemmCall& g);

// C = alpha op(A) op(B) + beta C on the replica's stream with its cuBLAS handle, the replica's device
// current for the call. Throws before the call on arguments cuBLAS would refuse, and on any cuBLAS error.
void sgemm(CudaCtx& cu, const lowering::GemmCall& g, const float* a, const float* b, float* c);

}  // namespace cnnb::cublas
