#pragma once
// Convolution and dense layers lowered to GEMM, written once in column-major BLAS terms so that the
// OpenBLAS backend (cpu-gemm) and the cuBLAS backend (cuda-gemm) share every transpose and leading
// dimension and differ only in the GEMM call. The host tests (tests/test_lowering.cpp) check these
// against direct loops, which is what makes the cuBLAS arguments trustworthy without a GPU.
//
// The one fact everything rests on: a row-major R x C matrix with row stride C is, byte for byte, a
// column-major C x R matrix with leading dimension C. So each row-major product Y = A * B is issued
// as the column-major product Y^T = B^T * A^T, where the "transposes" cost nothing.
//
// The per-element index math (im2col_at, col2im_at) is __host__ __device__ when compiled by nvcc:
// one CUDA thread per element runs exactly the body that the host tests check.
// C++17: included by .cu files too.
#include <cstdint>

#include "backends/ops.h"

#ifndef CNNB_HD
#ifdef __CUDACC__
#define CNNB_HD __host__ __device__
#else
#define CNNB_HD
#endif
#endif

namespace cnnb::lowering {

// One SGEMM in column-major BLAS semantics (cblas_sgemm(CblasColMajor, ...) and cublasSgemm take these
// fields as they are):  C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C,
// op(X) = X^T when trans_x. A is stored lda-strided as (trans_a ? k x m : m x k), B likewise.
struct GemmCall {
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0;
  int lda = 0, ldb = 0, ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
};

// ---- convolution, one image at a time. CRS = c*r*s (one filter), PQ = p*q (one output plane).
// The column matrix ("cols") of one image is row-major [CRS x PQ]: row (c*r + i)*s + j, column p*q + o holds
// x[c, p*stride - pad + i, o*stride - pad + j] (0 outside the image). Its row order is the flattening of
// w[k, c, r, s], so the filters are a row-major [K x CRS] matrix as stored.

// y_n = w * cols:  row-major y_n[K x PQ] = w[K x CRS] * cols[CRS x PQ]
// column-major:    y_n^T (PQ x K, ld PQ) = cols^T (PQ x CRS, ld PQ) * w^T (CRS x K, ld CRS)
// A = cols, B = w, C = y + n*K*PQ.  No transposes.
GemmCall conv_fwd(const ConvGeom& g);

// dcols = w^T * dy_n:  row-major dcols[CRS x PQ] = w^T[CRS x K] * dy_n[K x PQ]
// column-major:        dcols^T (PQ x CRS, ld PQ) = dy_n^T (PQ x K, ld PQ) * w (K x CRS: stored CRS x K, so trans_b)
// A = dy + n*K*PQ, B = w, C = dcols; then col2im(dcols) gives dx_n.
GemmCall conv_bwd_data(const ConvGeom& g);

// dw (+)= dy_n * cols^T:  row-major dw[K x CRS] = dy_n[K x PQ] * cols^T[PQ x CRS]
// column-major:           dw^T (CRS x K, ld CRS) = cols (CRS x PQ: stored PQ x CRS, so trans_a) * dy_n^T (PQ x K, ld PQ)
// A = cols, B = dy + n*K*PQ, C = dw. beta = 0 overwrites (first image), 1 accumulates (the others).
GemmCall conv_bwd_filter(const ConvGeom& g, bool accumulate);

// ---- dense (nn.Linear): x [N x in], w [out x in], y [N x out], all row-major, the whole batch at once.

// y = x * w^T:      column-major y^T (out x N, ld out) = w (out x in: stored in x out, so trans_a) * x^T (in x N, ld in)
// A = w, B = x, C = y.
GemmCall dense_fwd(const DenseGeom& g);

// dx = dy * w:      column-major dx^T (in x N, ld in) = w^T (in x out, ld in) * dy^T (out x N, ld out)
// A = w, B = dy, C = dx.
GemmCall dense_bwd_data(const DenseGeom& g);

// dw = dy^T * x:    column-major dw^T (in x out, ld in) = x^T (in x N, ld in) * dy (N x out: stored out x N, so trans_b)
// A = x, B = dy, C = dw.
GemmCall dense_bwd_weights(const DenseGeom& g);

// ---- im2col / col2im over explicit indices

// The geometry of one image's lowering, with p and q computed once: plain fields a device function can read
// (ConvGeom's p() and q() are host functions).
struct ConvIdx {
  int c = 0, h = 0, w = 0;  // one input image
  int r = 0, s = 0, stride = 1, pad = 0;
  int p = 0, q = 0;         // output plane
  CNNB_HD int64_t rows() const { return int64_t(c) * r * s; }  // CRS
  CNNB_HD int64_t cols() const { return int64_t(p) * q; }      // PQ
  CNNB_HD int64_t image() const { return int64_t(c) * h * w; }
  // 1x1, stride 1, no padding: cols is the image itself, so no im2col/col2im is needed.
  CNNB_HD bool is_identity() const { return r == 1 && s == 1 && stride == 1 && pad == 0; }
};
ConvIdx conv_idx(const ConvGeom& g);

// cols[row, col] of one image x ([c x h x w]).
template <class T>
CNNB_HD T im2col_at(const ConvIdx& g, const T* x, int64_t row, int64_t col) {
  const int j = int(row % g.s), i = int(row / g.s % g.r), c = int(row / (int64_t(g.r) * g.s));
  const int ow = int(col % g.q), oh = int(col / g.q);
  const int ih = oh * g.stride - g.pad + i, iw = ow * g.stride - g.pad + j;
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return T(0);
  return x[(int64_t(c) * g.h + ih) * g.w + iw];
}

// dx[c, ih, iw] of one image = the sum of every cols entry that im2col reads from that cell. A gather (one
// writer per dx element, no atomics), so it overwrites dx and runs in any order.
// Output row oh reads input row ih through filter row i when oh*stride - pad + i == ih.
template <class T>
CNNB_HD T col2im_at(const ConvIdx& g, const T* cols, int c, int ih, int iw) {
  T sum = T(0);
  for (int i = 0; i < g.r; ++i) {
    const int th = ih + g.pad - i;
    if (th < 0 || th % g.stride != 0 || th / g.stride >= g.p) continue;
    const int oh = th / g.stride;
    for (int j = 0; j < g.s; ++j) {
      const int tw = iw + g.pad - j;
      if (tw < 0 || tw % g.stride != 0 || tw / g.stride >= g.q) continue;
      const int64_t row = (int64_t(c) * g.r + i) * g.s + j;
      sum += cols[row * g.cols() + int64_t(oh) * g.q + tw / g.stride];
    }
  }
  return sum;
}

// Host loops over one image with the same results as the per-element functions above, arranged for a CPU
// (contiguous runs, no per-element division). col2im overwrites dx.
void im2col(const ConvIdx& g, const float* x, float* cols);
void col2im(const ConvIdx& g, const float* cols, float* dx);

}  // namespace cnnb::lowering
