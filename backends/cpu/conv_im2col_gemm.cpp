// cpu-gemm convolution: each image is lowered to its column matrix (im2col) and multiplied with the
// filters by one OpenBLAS SGEMM; backward data multiplies into columns and folds them back (col2im);
// backward filter accumulates one GEMM per image. Every GEMM argument comes from backends/lowering.h,
// the same lowering the cuBLAS backend issues.
// Threads: images are spread over OpenMP threads, each with its own part of the column scratch (from the
// replica's workspace, so a training step allocates nothing after the first) and single-threaded GEMMs. With fewer images than threads (batch 1), the
// images run in turn and each GEMM is cut over the threads instead.
#include <omp.h>

#include <algorithm>

#include "backends/cpu/blas.h"
#include "backends/cpu/scratch.h"
#include "backends/lowering.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cpu {

namespace {

lowering::ConvIdx checked_idx(const ConvGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.k > 0, "{}/cpu/im2col_gemm: expected n > 0 and k > 0, got n={} k={}", op, g.n, g.k);
  return lowering::conv_idx(g);
}

// Runs body(n, thread, gemm_threads) for every image n: over images when there are enough of them,
// else image by image with the threads inside the GEMM.
template <class Body>
void for_each_image(int images, int threads, Body&& body) {
  const int outer = std::max(1, std::min(threads, images));
  if (outer == 1) {
    for (int n = 0; n < images; ++n) body(n, 0, threads);
    return;
  }
#pragma omp parallel num_threads(outer)
  {
    const int t = omp_get_thread_num();
#pragma omp for schedule(static)
    for (int n = 0; n < images; ++n) body(n, t, 1);
  }
}

int image_threads(int threads, int images) { return std::max(1, std::min(threads, images)); }

}  // namespace

void conv_fwd_im2col_gemm(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const ConvGeom& g = a.g;
  const lowering::ConvIdx ix = checked_idx(g, "conv_fwd");
  const lowering::GemmCall gemm = lowering::conv_fwd(g);
  const int64_t pq = ix.cols(), y_image = int64_t(g.k) * pq, cols_size = ix.rows() * pq;
  const bool direct = ix.is_identity();  // 1x1, stride 1, no pad: the image is its own column matrix
  use_single_threaded_blas();
  const Scratch scratch(ctx, {direct ? 0 : size_t(image_threads(ctx.threads, g.n)) * size_t(cols_size) * sizeof(float)});

  for_each_image(g.n, ctx.threads, [&](int n, int t, int gemm_threads) {
    const float* x = a.x + n * ix.image();
    float* y = a.y + n * y_image;
    float* cols = direct ? nullptr : scratch.part<float>(0) + t * cols_size;
    if (!direct) lowering::im2col(ix, x, cols);
    sgemm_parallel(gemm, direct ? x : cols, a.w, y, gemm_threads);
    if (a.bias)
      for (int k = 0; k < g.k; ++k) {
        float* plane = y + k * pq;
        const float b = a.bias[k];
        for (int64_t i = 0; i < pq; ++i) plane[i] += b;
      }
  });
}

void conv_bwd_data_im2col_gemm(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  const ConvGeom& g = a.g;
  const lowering::ConvIdx ix = checked_idx(g, "conv_bwd_data");
  const lowering::GemmCall gemm = lowering::conv_bwd_data(g);
  const int64_t pq = ix.cols(), y_image = int64_t(g.k) * pq, cols_size = ix.rows() * pq;
  const bool direct = ix.is_identity();  // the column gradient is dx itself
  use_single_threaded_blas();
  const Scratch scratch(ctx, {direct ? 0 : size_t(image_threads(ctx.threads, g.n)) * size_t(cols_size) * sizeof(float)});

  for_each_image(g.n, ctx.threads, [&](int n, int t, int gemm_threads) {
    const float* dy = a.dy + n * y_image;
    float* dx = a.dx + n * ix.image();
    float* cols = direct ? nullptr : scratch.part<float>(0) + t * cols_size;
    sgemm_parallel(gemm, dy, a.w, direct ? dx : cols, gemm_threads);
    if (!direct) lowering::col2im(ix, cols, dx);
  });
}

void conv_bwd_filter_im2col_gemm(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  const ConvGeom& g = a.g;
  const lowering::ConvIdx ix = checked_idx(g, "conv_bwd_filter");
  const lowering::GemmCall first = lowering::conv_bwd_filter(g, false), rest = lowering::conv_bwd_filter(g, true);
  const int64_t pq = ix.cols(), y_image = int64_t(g.k) * pq, cols_size = ix.rows() * pq;
  const int64_t w_size = g.w_size();
  const int outer = image_threads(ctx.threads, g.n);
  const bool direct = ix.is_identity();
  use_single_threaded_blas();
  // Thread 0 sums its images straight into dw, the others into partials added afterwards in thread
  // order, so the result depends only on the thread count, never on timing. Each thread's first image
  // overwrites (beta 0) and the rest accumulate: a thread's images are consecutive and in order.
  const Scratch scratch(ctx, {direct ? 0 : size_t(outer) * size_t(cols_size) * sizeof(float),
                              size_t(outer - 1) * size_t(w_size) * sizeof(float), size_t(outer)});
  float* partials = scratch.part<float>(1);
  char* started = scratch.part<char>(2);
  std::fill(started, started + outer, char(0));

  for_each_image(g.n, ctx.threads, [&](int n, int t, int gemm_threads) {
    const float* x = a.x + n * ix.image();
    float* cols = direct ? nullptr : scratch.part<float>(0) + t * cols_size;
    float* dw = t == 0 ? a.dw : partials + (t - 1) * w_size;
    if (!direct) lowering::im2col(ix, x, cols);
    sgemm_parallel(started[t] ? rest : first, direct ? x : cols, a.dy + n * y_image, dw, gemm_threads);
    started[t] = 1;
  });

  if (!started[0]) std::fill(a.dw, a.dw + w_size, 0.0f);  // cannot happen with a static schedule; kept exact
  if (outer > 1) {
#pragma omp parallel for num_threads(ctx.threads) schedule(static)
    for (int64_t i = 0; i < w_size; ++i) {
      float sum = a.dw[i];
      for (int t = 1; t < outer; ++t) sum += started[t] ? partials[(t - 1) * w_size + i] : 0.0f;
      a.dw[i] = sum;
    }
  }

  if (a.dbias) {
#pragma omp parallel for num_threads(std::max(1, std::min(ctx.threads, g.k))) schedule(static)
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
