#pragma once
// The one place cpu-gemm touches OpenBLAS: a lowering::GemmCall issued as cblas_sgemm, whole or cut into
// blocks over OpenMP threads.
#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "backends/lowering.h"

namespace cnnb::cpu {

inline void sgemm(const lowering::GemmCall& g, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasColMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans, g.m, g.n,
              g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c, g.ldc);
}

// OpenBLAS runs single-threaded and cpu-gemm does all its threading with OpenMP (ctx.threads): OpenBLAS's
// thread count is process-wide, so replicas with their own CPU slots could not each set theirs, two
// multithreaded OpenBLAS calls at once serialise on its lock, and its idle pool would spin beside the
// OpenMP team. Setting 1 from every call is idempotent, so concurrent replicas cannot disturb each other.
inline void use_single_threaded_blas() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

// One GemmCall over `threads` OpenMP threads: C is cut into blocks along its longer side (whole multiples
// of 16 rows or columns), and each block is an independent single-threaded SGEMM on shifted pointers.
// Inside another parallel region it runs the blocks on the calling thread (OpenMP's default of no nesting).
inline void sgemm_parallel(const lowering::GemmCall& g, const float* a, const float* b, float* c, int threads) {
  const bool split_n = g.n >= g.m;
  const int extent = split_n ? g.n : g.m;
  constexpr int kBlock = 16;
  const int parts = std::max(1, std::min(threads, extent / kBlock));
  if (parts == 1) {
    sgemm(g, a, b, c);
    return;
  }
  const int blocks = (extent + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(parts) schedule(static)
  for (int t = 0; t < parts; ++t) {
    const int i0 = std::min(extent, blocks * t / parts * kBlock), i1 = std::min(extent, blocks * (t + 1) / parts * kBlock);
    if (i0 >= i1) continue;
    lowering::GemmCall part = g;
    if (split_n) {  // columns i0..i1 of C and of op(B)
      part.n = i1 - i0;
      sgemm(part, a, b + (g.trans_b ? int64_t(i0) : int64_t(i0) * g.ldb), c + int64_t(i0) * g.ldc);
    } else {  // rows i0..i1 of C and of op(A)
      part.m = i1 - i0;
      sgemm(part, a + (g.trans_a ? int64_t(i0) * g.lda : int64_t(i0)), b, c + i0);
    }
  }
}

}  // namespace cnnb::cpu
