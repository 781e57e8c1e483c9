#pragma once
// What one thread of cuda-gemm's own kernels computes, as functions of explicit indices: im2col and
// col2im over a chunk of consecutive images (the per-image index math is lowering.h's, shared with
// cpu-gemm), the bias broadcast, and one lane of the bias-gradient reduction. The kernels
// (lowering_kernels.cu) run exactly these; tests/test_cublas_host.cpp runs them over whole grids on
// the host. C++17, and plain C++ when not compiled by nvcc.
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

// dbias[ch] = the sum over images and positions of dy [n x k x pq] in channel ch, by one block of
// `lanes` threads: lane l adds elements l, l + lanes, l + 2*lanes, ... of the channel in order (this
// function); the block then adds the lanes' sums pairwise, lane j += lane j + s for s = lanes/2 .. 1
// (bias_grad_tree). Both orders are fixed, so every run gives the same bits; no atomics.
CNNB_HD inline float bias_grad_lane(const float* dy, int n, int k, int64_t pq, int ch, int lane, int lanes) {
  const int64_t count = int64_t(n) * pq;
  float sum = 0.0f;
  for (int64_t j = lane; j < count; j += lanes) sum += dy[(j / pq * k + ch) * pq + j % pq];
  return sum;
}

// The block's pairwise step for lanes a power of two; the host twin of the shared-memory loop.
inline float bias_grad_tree(float* partial, int lanes) {
  for (int s = lanes / 2; s > 0; s /= 2)
    for (int l = 0; l < s; ++l) partial[l] += partial[l + s];
  return partial[0];
}

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
