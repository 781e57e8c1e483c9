#pragma once
// The cuda-gemm convolution and dense layers, written once over an executor so that the CPU suite runs
// them as they are (tests/test_cublas_host.cpp) and a GPU runs them with cuBLAS (conv_im2col_gemm.cpp,
// dense_gemm.cpp). An Exec has
//   const char* kernel;                                    op/family/variant, for messages
//   float* workspace(size_t bytes);                        at least `bytes` of scratch (the replica's workspace)
//   void gemm(const lowering::GemmCall&, const float* a, const float* b, float* c);
//   void grid(int64_t n, const F& f);                      f(e) for e in [0, n), F one of lowering_bodies.h's
//   void blocks(int count, const BiasGrad& f);             the bias-gradient block reduction, one block per channel
// Every GEMM is lowering.h's (the arguments cpu-gemm gives OpenBLAS). Convolutions build the column
// matrices of a chunk of images with one im2col grid, then issue one GEMM per image; backward data
// multiplies into column gradients and folds them back with one col2im grid per chunk; backward filter
// accumulates one GEMM per image into dw (beta 1 after the first), in image order, so dw is the same on
// every run. 1x1, stride-1, unpadded layers skip im2col/col2im: each image is its own column matrix.
// One GEMM per image rather than a strided-batched call: it needs no stride-0 operand (undocumented
// for cuBLAS). Host code.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "backends/cublas/lowering_bodies.h"
#include "backends/cuda/geometry_checks.h"
#include "backends/lowering.h"
#include "backends/ops.h"

namespace cnnb::cublas {

// Column matrices per chunk. Enough images per chunk to amortise the im2col launch (a tfcifar conv2
// image is 1.6 MB of columns: 40 images), small beside any training GPU's memory.
constexpr size_t kColumnBudget = size_t(64) << 20;

struct Lowered {
  lowering::ConvIdx ix;
  int64_t pq, y_image, col_floats;
};

inline Lowered lower(const ConvGeom& g, const char* kernel) {
  cuda::check_geometry(g, kernel);
  const lowering::ConvIdx ix = lowering::conv_idx(g);
  return {ix, ix.cols(), int64_t(g.k) * ix.cols(), ix.rows() * ix.cols()};
}

// Calls body(n0, images, cols) for each chunk of images, cols holding room for their column matrices.
template <class Exec, class Body>
void for_each_chunk(Exec& ex, const ConvGeom& g, const Lowered& l, size_t column_budget, Body&& body) {
  const ColumnChunks chunk = column_chunks(g.n, l.col_floats, column_budget);
  float* cols = ex.workspace(chunk.bytes);
  for (int n0 = 0; n0 < g.n; n0 += chunk.images) body(n0, std::min(chunk.images, g.n - n0), cols);
}

template <class Exec>
void conv_fwd_im2col_gemm_on(Exec& ex, const ConvFwdArgs& a, size_t column_budget = kColumnBudget) {
  const ConvGeom& g = a.g;
  const Lowered l = lower(g, ex.kernel);
  const lowering::GemmCall gemm = lowering::conv_fwd(g);
  if (l.ix.is_identity()) {
    for (int n = 0; n < g.n; ++n) ex.gemm(gemm, a.x + n * l.ix.image(), a.w, a.y + n * l.y_image);
  } else {
    for_each_chunk(ex, g, l, column_budget, [&](int n0, int images, float* cols) {
      ex.grid(images * l.col_floats, Im2colChunk{l.ix, a.x + n0 * l.ix.image(), cols});
      for (int i = 0; i < images; ++i) ex.gemm(gemm, cols + i * l.col_floats, a.w, a.y + (n0 + i) * l.y_image);
    });
  }
  if (a.bias) ex.grid(g.y_size(), AddBias{a.y, a.bias, g.k, l.pq});
}

template <class Exec>
void conv_bwd_data_im2col_gemm_on(Exec& ex, const ConvBwdDataArgs& a, size_t column_budget = kColumnBudget) {
  const ConvGeom& g = a.g;
  const Lowered l = lower(g, ex.kernel);
  const lowering::GemmCall gemm = lowering::conv_bwd_data(g);
  if (l.ix.is_identity()) {  // the column gradient is dx itself
    for (int n = 0; n < g.n; ++n) ex.gemm(gemm, a.dy + n * l.y_image, a.w, a.dx + n * l.ix.image());
    return;
  }
  for_each_chunk(ex, g, l, column_budget, [&](int n0, int images, float* cols) {
    for (int i = 0; i < images; ++i) ex.gemm(gemm, a.dy + (n0 + i) * l.y_image, a.w, cols + i * l.col_floats);
    ex.grid(images * l.ix.image(), Col2imChunk{l.ix, cols, a.dx + n0 * l.ix.image()});
  });
}

template <class Exec>
void conv_bwd_filter_im2col_gemm_on(Exec& ex, const ConvBwdFilterArgs& a, size_t column_budget = kColumnBudget) {
  const ConvGeom& g = a.g;
  const Lowered l = lower(g, ex.kernel);
  // The first image overwrites dw (beta 0), the others add to it (beta 1).
  const lowering::GemmCall first = lowering::conv_bwd_filter(g, false), rest = lowering::conv_bwd_filter(g, true);
  if (l.ix.is_identity()) {
    for (int n = 0; n < g.n; ++n) ex.gemm(n == 0 ? first : rest, a.x + n * l.ix.image(), a.dy + n * l.y_image, a.dw);
  } else {
    for_each_chunk(ex, g, l, column_budget, [&](int n0, int images, float* cols) {
      ex.grid(images * l.col_floats, Im2colChunk{l.ix, a.x + n0 * l.ix.image(), cols});
      for (int i = 0; i < images; ++i)
        ex.gemm(n0 + i == 0 ? first : rest, cols + i * l.col_floats, a.dy + (n0 + i) * l.y_image, a.dw);
    });
  }
  if (a.dbias) ex.blocks(g.k, BiasGrad{a.dy, a.dbias, g.n, g.k, l.pq});
}

// Each product is one GEMM over the whole batch.
template <class Exec>
void dense_fwd_gemm_on(Exec& ex, const DenseFwdArgs& a) {
  ex.gemm(lowering::dense_fwd(a.g), a.w, a.x, a.y);
  if (a.bias) ex.grid(int64_t(a.g.n) * a.g.out, AddBias{a.y, a.bias, a.g.out, 1});
}

// dx is null for a network's first layer, dbias for a layer without bias.
template <class Exec>
void dense_bwd_gemm_on(Exec& ex, const DenseBwdArgs& a) {
  if (a.dx) ex.gemm(lowering::dense_bwd_data(a.g), a.w, a.dy, a.dx);
  ex.gemm(lowering::dense_bwd_weights(a.g), a.x, a.dy, a.dw);
  if (a.dbias) ex.blocks(a.g.out, BiasGrad{a.dy, a.dbias, a.g.n, a.g.out, 1});
}

}  // namespace cnnb::cublas
