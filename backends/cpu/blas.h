#pragma once
// The one place cpu-gemm touches OpenBLAS: a lowering::GemmCall issued as cblas_sgemm, and how a call
// divides its CPU threads between OpenMP and BLAS.
#include <cblas.h>

#include <algorithm>

#include "backends/lowering.h"

namespace cnnb::cpu {

inline void sgemm(const lowering::GemmCall& g, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasColMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans, g.m, g.n,
              g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c, g.ldc);
}

// OpenBLAS's thread count is process-wide, so every call sets what it needs before its first GEMM.
// Replicas on one host that use cpu-gemm concurrently therefore share one setting; each call stays
// correct, only the split of cores may differ from what one of them asked for.
inline void set_blas_threads(int n) {
  if (openblas_get_num_threads() != n) openblas_set_num_threads(n);
}

// Per-image work (im2col + one GEMM per image) is split over images: `images` OpenMP threads, each running
// single-threaded GEMMs on its own images and scratch. Only when there is one image (or one thread) does
// BLAS get the threads, since two multithreaded OpenBLAS calls at once would serialise on its lock.
struct ThreadSplit {
  int images = 1;  // OpenMP threads over images
  int blas = 1;    // threads inside each GEMM
};
inline ThreadSplit split_threads(int threads, int images) {
  const int outer = std::max(1, std::min(threads, images));
  return {outer, outer == 1 ? std::max(1, threads) : 1};
}

}  // namespace cnnb::cpu
