#include "backends/cublas/sgemm.h"

#include <algorithm>

#include <fmt/format.h>

#include "backends/cublas/check.h"
#include "backends/cuda/cuda_ctx.h"
#include "core/error.h"

namespace cnnb::cublas {

SgemmArgs sgemm_args(const lowering::GemmCall& g) {
  SgemmArgs s;
  s.transa = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  s.transb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  s.m = g.m, s.n = g.n, s.k = g.k;
  s.alpha = g.alpha, s.beta = g.beta;
  s.lda = g.lda, s.ldb = g.ldb, s.ldc = g.ldc;
  return s;
}

std::string invalid_reason(const SgemmArgs& a) {
  if (a.m <= 0 || a.n <= 0 || a.k <= 0) return fmt::format("m={} n={} k={}: every size must be positive", a.m, a.n, a.k);
  const int a_rows = a.transa == CUBLAS_OP_N ? a.m : a.k, b_rows = a.transb == CUBLAS_OP_N ? a.k : a.n;
  if (a.lda < std::max(1, a_rows)) return fmt::format("lda={} < {}, the rows of A as stored", a.lda, a_rows);
  if (a.ldb < std::max(1, b_rows)) return fmt::format("ldb={} < {}, the rows of B as stored", a.ldb, b_rows);
  if (a.ldc < std::max(1, a.m)) return fmt::format("ldc={} < m={}", a.ldc, a.m);
  return {};
}

SgemmArgs checked_sgemm_args(const lowering::GemmCall& g) {
  const SgemmArgs s = sgemm_args(g);
  if (const std::string why = invalid_reason(s); !why.empty()) fail("cublasSgemm arguments refused before the call: {}", why);
  return s;
}

void sgemm(CudaCtx& cu, const lowering::GemmCall& g, const float* a, const float* b, float* c) {
  const SgemmArgs s = checked_sgemm_args(g);
  cublasHandle_t h = cu.cublas();
  // The handle belongs to the replica's device, which the calling thread need not have current.
  const cuda::ScopedDevice on(cu.device);
  CNNB_CUBLAS_CHECK(cublasSgemm(h, s.transa, s.transb, s.m, s.n, s.k, &s.alpha, a, s.lda, b, s.ldb,
                                &s.beta, c, s.ldc));
}

}  // namespace cnnb::cublas
