#pragma once
// What one thread of cuda-gemm's own kernels computes, as functions of explicit indices: im2col and
// col2im over a chunk of consecutive images (the per-image index math is lowering.h's, shared with
// cpu-gemm), the bias broadcast, and the phases of the bias-gradient block reduction. The kernels
// (lowering_kernels.cu) run exactly these; the host executor of tests/test_cublas_host.cpp runs them
// through the same flows (flows.h). C++17, and plain C++ when not compiled by nvcc.
#include <cstddef>
#include <cstdint>

#include "backends/lowering.h"

namespace cnnb::cublas {

// The column matrices of `images` consecutive images, one after another (each [CRS x PQ] row-major):
// element e belongs to image e / (CRS*PQ).
CNNB_HD inline float im2col_chunk_at(const lowering::ConvIdx& g, const float* x, int64_t e) {
  const int64_t per_image = g.rows() * g.cols();
  const int64_t image = e / per_image, rc = e % per_image;
  return lowering::im2col_at(g, x + image * g.image(), rc / g.cols(), rc % g.cols());
}

// Element e of dx over a chunk of images ([c x h x w] each), gathered from that image's column
// gradients: one writer per element, so it overwrites and needs no atomics.
CNNB_HD inline float col2im_chunk_at(const lowering::ConvIdx& g, const float* cols, int64_t e) {
  const int64_t image = e / g.image(), i = e % g.image();
  const int iw = int(i % g.w), ih = int(i / g.w % g.h), c = int(i / (int64_t(g.w) * g.h));
  return lowering::col2im_at(g, cols + image * g.rows() * g.cols(), c, ih, iw);
}

// The channel of element e of y [n x k x pq] (a dense layer is the case pq = 1).
CNNB_HD inline int bias_channel(int64_t e, int k, int64_t pq) { return int(e / pq % k); }

// ---- element functors: what thread e of each grid does (flows.h decides which run, over how much).

// The column matrices of `images` consecutive images of x: images * rows * cols elements.
struct Im2colChunk {
  lowering::ConvIdx g;
  const float* x;
  float* cols;
  CNNB_HD void operator()(int64_t e) const { cols[e] = im2col_chunk_at(g, x, e); }
};

// dx of `images` consecutive images from their column gradients: images * image() elements.
struct Col2imChunk {
  lowering::ConvIdx g;
  const float* cols;
  float* dx;
  CNNB_HD void operator()(int64_t e) const { dx[e] = col2im_chunk_at(g, cols, e); }
};

// y [n x k x pq] += bias[k] per channel: n * k * pq elements.
struct AddBias {
  float* y;
  const float* bias;
  int k;
  int64_t pq;
  CNNB_HD void operator()(int64_t e) const { y[e] += bias[bias_channel(e, k, pq)]; }
};

// dbias[ch] = the sum over images and positions of dy [n x k x pq] in channel ch, overwriting, by one
// block of kLanes threads per channel in kPhases phases, a block barrier after each:
//   phase 0: lane l adds elements l, l + kLanes, l + 2*kLanes, ... of the channel in order;
//   phase j = 1 .. log2(kLanes): lane l < s adds lane l + s, s = kLanes >> j (a pairwise tree);
//   the last phase: lane 0 writes the channel's sum.
// Both orders are fixed, so every run gives the same bits; no atomics.
struct BiasGrad {
  static constexpr int kLanes = 256;  // a power of two: the tree halves it
  static constexpr int kPhases = 10;  // 1 + log2(kLanes) + 1
  const float* dy;
  float* dbias;
  int n, k;
  int64_t pq;
  CNNB_HD void operator()(int ch, int lane, int phase, float* partial) const {
    if (phase == 0) {
      const int64_t count = int64_t(n) * pq;
      float sum = 0.0f;
      for (int64_t j = lane; j < count; j += kLanes) sum += dy[(j / pq * k + ch) * pq + j % pq];
      partial[lane] = sum;
    } else if (phase < kPhases - 1) {
      const int s = kLanes >> phase;
      if (lane < s) partial[lane] += partial[lane + s];
    } else if (lane == 0) {
      dbias[ch] = partial[0];
    }
  }
};
static_assert((BiasGrad::kLanes >> (BiasGrad::kPhases - 2)) == 1, "the tree must end at one lane");

// How many images' column matrices go into the workspace at once: as many as fit `budget_bytes`, at
// least one, at most n. Bytes in size_t: one tfcifar column matrix is 1.6 MB, a batch of them far more.
struct ColumnChunks {
  int images = 1;
  size_t bytes = 0;  // workspace for `images` column matrices
};
inline ColumnChunks column_chunks(int n, int64_t floats_per_image, size_t budget_bytes) {
  const size_t per_image = size_t(floats_per_image) * sizeof(float);
  size_t images = per_image == 0 ? size_t(n) : budget_bytes / per_image;
  if (images < 1) images = 1;
  if (images > size_t(n)) images = size_t(n);
  return {int(images), images * per_image};
}

}  // namespace cnnb::cublas
