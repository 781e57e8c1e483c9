// cpu-gemm convolution: each image is lowered to its column matrix (im2col) and multiplied with the
// filters by one OpenBLAS SGEMM; backward data multiplies into columns and folds them back (col2im);
// backward filter accumulates one GEMM per image. Every GEMM argument comes from backends/lowering.h,
// the same lowering the cuBLAS backend issues. Images are spread over OpenMP threads, each with its own
// column scratch (allocated per call: nothing outlives the call).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/blas.h"
#include "backends/lowering.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cpu {

namespace {

lowering::ConvIdx checked_idx(const ConvGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.k > 0, "{}/cpu/im2col_gemm: expected n > 0 and k > 0, got n={} k={}", op, g.n, g.k);
  return lowering::conv_idx(g);
}

}  // namespace

void conv_fwd_im2col_gemm(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const ConvGeom& g = a.g;
  const lowering::ConvIdx ix = checked_idx(g, "conv_fwd");
  const lowering::GemmCall gemm = lowering::conv_fwd(g);
  const int64_t pq = ix.cols(), y_image = int64_t(g.k) * pq, cols_size = ix.rows() * pq;
  const ThreadSplit split = split_threads(ctx.threads, g.n);
  set_blas_threads(split.blas);
  const bool direct = ix.is_identity();
  std::vector<float> scratch(direct ? 0 : size_t(split.images) * size_t(cols_size));

#pragma omp parallel num_threads(split.images)
  {
    float* cols = direct ? nullptr : scratch.data() + omp_get_thread_num() * cols_size;
#pragma omp for schedule(static)
    for (int n = 0; n < g.n; ++n) {
      const float* x = a.x + n * ix.image();
      float* y = a.y + n * y_image;
      if (!direct) lowering::im2col(ix, x, cols);
      sgemm(gemm, direct ? x : cols, a.w, y);
      if (a.bias)
        for (int k = 0; k < g.k; ++k) {
          float* plane = y + k * pq;
          const float b = a.bias[k];
          for (int64_t i = 0; i < pq; ++i) plane[i] += b;
        }
    }
  }
}

void conv_bwd_data_im2col_gemm(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  const ConvGeom& g = a.g;
  const lowering::ConvIdx ix = checked_idx(g, "conv_bwd_data");
  const lowering::GemmCall gemm = lowering::conv_bwd_data(g);
  const int64_t pq = ix.cols(), y_image = int64_t(g.k) * pq, cols_size = ix.rows() * pq;
  const ThreadSplit split = split_threads(ctx.threads, g.n);
  set_blas_threads(split.blas);
  const bool direct = ix.is_identity();  // the column gradient is dx itself
  std::vector<float> scratch(direct ? 0 : size_t(split.images) * size_t(cols_size));

#pragma omp parallel num_threads(split.images)
  {
    float* cols = direct ? nullptr : scratch.data() + omp_get_thread_num() * cols_size;
#pragma omp for schedule(static)
    for (int n = 0; n < g.n; ++n) {
      const float* dy = a.dy + n * y_image;
      float* dx = a.dx + n * ix.image();
      sgemm(gemm, dy, a.w, direct ? dx : cols);
      if (!direct) lowering::col2im(ix, cols, dx);
    }
  }
}

void conv_bwd_filter_im2col_gemm(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  const ConvGeom& g = a.g;
  const lowering::ConvIdx ix = checked_idx(g, "conv_bwd_filter");
  const lowering::GemmCall first = lowering::conv_bwd_filter(g, false), rest = lowering::conv_bwd_filter(g, true);
  const int64_t pq = ix.cols(), y_image = int64_t(g.k) * pq, cols_size = ix.rows() * pq;
  const int64_t w_size = g.w_size();
  const ThreadSplit split = split_threads(ctx.threads, g.n);
  set_blas_threads(split.blas);
  const bool direct = ix.is_identity();
  std::vector<float> scratch(direct ? 0 : size_t(split.images) * size_t(cols_size));
  // Thread 0 sums its images straight into dw, the others into partials added afterwards in thread
  // order, so the result depends only on the thread count, never on timing.
  std::vector<float> partials(size_t(split.images - 1) * size_t(w_size));

#pragma omp parallel num_threads(split.images)
  {
    const int t = omp_get_thread_num();
    float* cols = direct ? nullptr : scratch.data() + t * cols_size;
    float* dw = t == 0 ? a.dw : partials.data() + (t - 1) * w_size;
    bool seen = false;
#pragma omp for schedule(static)
    for (int n = 0; n < g.n; ++n) {
      const float* x = a.x + n * ix.image();
      if (!direct) lowering::im2col(ix, x, cols);
      sgemm(seen ? rest : first, direct ? x : cols, a.dy + n * y_image, dw);
      seen = true;
    }
    if (!seen) std::fill(dw, dw + w_size, 0.0f);
  }

  if (split.images > 1) {
#pragma omp parallel for num_threads(ctx.threads) schedule(static)
    for (int64_t i = 0; i < w_size; ++i) {
      float sum = a.dw[i];
      for (int t = 1; t < split.images; ++t) sum += partials[(t - 1) * w_size + i];
      a.dw[i] = sum;
    }
  }

  if (a.dbias) {
#pragma omp parallel for num_threads(std::min(ctx.threads, g.k)) schedule(static)
    for (int k = 0; k < g.k; ++k) {
      double sum = 0.0;
      for (int n = 0; n < g.n; ++n) {
        const float* plane = a.dy + n * y_image + k * pq;
        for (int64_t i = 0; i < pq; ++i) sum += plane[i];
      }
      a.dbias[k] = float(sum);
    }
  }
}

}  // namespace cnnb::cpu
