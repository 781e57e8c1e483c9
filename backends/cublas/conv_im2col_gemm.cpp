// cuda-gemm convolution: the column matrices of a chunk of images are built by one im2col launch into
// the replica's workspace, then each image is one cublasSgemm with the GemmCall of backends/lowering.h
// (the arguments cpu-gemm gives OpenBLAS and tests/test_lowering.cpp checks on the host). Backward
// data multiplies into column gradients and folds them back with one col2im launch per chunk;
// backward filter accumulates one GEMM per image into dw (beta 1 after the first), in image order,
// so dw is the same on every run. One GEMM per image rather than a strided-batched call: it is the
// call the host tests cover, and it needs no stride-0 operand (undocumented for cuBLAS).
#include <algorithm>
#include <cstddef>

#include "backends/cublas/lowering_bodies.h"
#include "backends/cublas/lowering_kernels.h"
#include "backends/cublas/sgemm.h"
#include "backends/cuda/cuda_ctx.h"
#include "backends/cuda/geometry_checks.h"
#include "backends/lowering.h"
#include "backends/ops.h"

namespace cnnb::cublas {

namespace {

// Column matrices per chunk. Enough images per chunk to amortise the im2col launch (a tfcifar conv2
// image is 1.6 MB of columns: 40 images), small beside any training GPU's memory.
constexpr size_t kColumnBudget = size_t(64) << 20;

struct Lowered {
  lowering::ConvIdx ix;
  int64_t pq, y_image, col_floats;
};

Lowered lower(const ConvGeom& g, const char* kernel) {
  cuda::check_geometry(g, kernel);
  const lowering::ConvIdx ix = lowering::conv_idx(g);
  return {ix, ix.cols(), int64_t(g.k) * ix.cols(), ix.rows() * ix.cols()};
}

}  // namespace

void conv_fwd_im2col_gemm(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const char* kernel = "conv_fwd/cublas/im2col_gemm";
  try {
    const ConvGeom& g = a.g;
    const Lowered l = lower(g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const lowering::GemmCall gemm = lowering::conv_fwd(g);
    if (l.ix.is_identity()) {  // 1x1, stride 1, no padding: each image is its own column matrix
      for (int n = 0; n < g.n; ++n) sgemm(cu, gemm, a.x + n * l.ix.image(), a.w, a.y + n * l.y_image);
    } else {
      const ColumnChunks chunk = column_chunks(g.n, l.col_floats, kColumnBudget);
      float* cols = static_cast<float*>(cu.workspace(chunk.bytes));
      for (int n0 = 0; n0 < g.n; n0 += chunk.images) {
        const int images = std::min(chunk.images, g.n - n0);
        im2col_images(ctx, l.ix, a.x + n0 * l.ix.image(), images, cols);
        for (int i = 0; i < images; ++i) sgemm(cu, gemm, cols + i * l.col_floats, a.w, a.y + (n0 + i) * l.y_image);
      }
    }
    if (a.bias) add_bias(ctx, a.y, a.bias, g.n, g.k, l.pq);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void conv_bwd_data_im2col_gemm(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  const char* kernel = "conv_bwd_data/cublas/im2col_gemm";
  try {
    const ConvGeom& g = a.g;
    const Lowered l = lower(g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    const lowering::GemmCall gemm = lowering::conv_bwd_data(g);
    if (l.ix.is_identity()) {  // the column gradient is dx itself
      for (int n = 0; n < g.n; ++n) sgemm(cu, gemm, a.dy + n * l.y_image, a.w, a.dx + n * l.ix.image());
      return;
    }
    const ColumnChunks chunk = column_chunks(g.n, l.col_floats, kColumnBudget);
    float* cols = static_cast<float*>(cu.workspace(chunk.bytes));
    for (int n0 = 0; n0 < g.n; n0 += chunk.images) {
      const int images = std::min(chunk.images, g.n - n0);
      for (int i = 0; i < images; ++i) sgemm(cu, gemm, a.dy + (n0 + i) * l.y_image, a.w, cols + i * l.col_floats);
      col2im_images(ctx, l.ix, cols, images, a.dx + n0 * l.ix.image());
    }
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

void conv_bwd_filter_im2col_gemm(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  const char* kernel = "conv_bwd_filter/cublas/im2col_gemm";
  try {
    const ConvGeom& g = a.g;
    const Lowered l = lower(g, kernel);
    CudaCtx& cu = cuda::cuda_of(ctx, kernel);
    // The first image overwrites dw (beta 0), the others add to it (beta 1).
    const lowering::GemmCall first = lowering::conv_bwd_filter(g, false), rest = lowering::conv_bwd_filter(g, true);
    if (l.ix.is_identity()) {
      for (int n = 0; n < g.n; ++n)
        sgemm(cu, n == 0 ? first : rest, a.x + n * l.ix.image(), a.dy + n * l.y_image, a.dw);
    } else {
      const ColumnChunks chunk = column_chunks(g.n, l.col_floats, kColumnBudget);
      float* cols = static_cast<float*>(cu.workspace(chunk.bytes));
      for (int n0 = 0; n0 < g.n; n0 += chunk.images) {
        const int images = std::min(chunk.images, g.n - n0);
        im2col_images(ctx, l.ix, a.x + n0 * l.ix.image(), images, cols);
        for (int i = 0; i < images; ++i)
          sgemm(cu, n0 + i == 0 ? first : rest, cols + i * l.col_floats, a.dy + (n0 + i) * l.y_image, a.dw);
      }
    }
    if (a.dbias) bias_grad(ctx, a.dy, a.dbias, g.n, g.k, l.pq);
  } catch (...) {
    cuda::rethrow_in(kernel);
  }
}

}  // namespace cnnb::cublas
