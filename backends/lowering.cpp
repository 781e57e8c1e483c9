#include "backends/lowering.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "core/error.h"

namespace cnnb::lowering {

namespace {

// BLAS dimensions are int; a layer big enough to overflow one is a bug upstream, not a case to handle.
int blas_dim(int64_t v, const char* what) {
  CNNB_CHECK(v > 0 && v <= INT_MAX, "GEMM lowering: {} = {} does not fit a BLAS dimension (1..{})", what, v,
             INT_MAX);
  return int(v);
}

// First o >= 0 with o*stride + offset >= 0, and first o with o*stride + offset >= limit (both clamped to
// [0, count]): the outputs [begin, end) of one im2col row read inside the image.
int first_inside(int offset, int stride, int count) {
  const int o = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  return std::min(o, count);
}
int first_past(int offset, int stride, int limit, int count) {
  const int o = limit - offset <= 0 ? 0 : (limit - offset + stride - 1) / stride;
  return std::min(o, count);
}

}  // namespace

GemmCall conv_fwd(const ConvGeom& g) {
  const int crs = blas_dim(int64_t(g.c) * g.r * g.s, "c*r*s"), pq = blas_dim(int64_t(g.p()) * g.q(), "p*q");
  const int k = blas_dim(g.k, "k");
  return {false, false, pq, k, crs, pq, crs, pq, 1.0f, 0.0f};
}

GemmCall conv_bwd_data(const ConvGeom& g) {
  const int crs = blas_dim(int64_t(g.c) * g.r * g.s, "c*r*s"), pq = blas_dim(int64_t(g.p()) * g.q(), "p*q");
  const int k = blas_dim(g.k, "k");
  return {false, true, pq, crs, k, pq, crs, pq, 1.0f, 0.0f};
}

GemmCall conv_bwd_filter(const ConvGeom& g, bool accumulate) {
  const int crs = blas_dim(int64_t(g.c) * g.r * g.s, "c*r*s"), pq = blas_dim(int64_t(g.p()) * g.q(), "p*q");
  const int k = blas_dim(g.k, "k");
  return {true, false, crs, k, pq, pq, pq, crs, 1.0f, accumulate ? 1.0f : 0.0f};
}

GemmCall dense_fwd(const DenseGeom& g) {
  const int n = blas_dim(g.n, "n"), in = blas_dim(g.in, "in"), out = blas_dim(g.out, "out");
  return {true, false, out, n, in, in, in, out, 1.0f, 0.0f};
}

GemmCall dense_bwd_data(const DenseGeom& g) {
  const int n = blas_dim(g.n, "n"), in = blas_dim(g.in, "in"), out = blas_dim(g.out, "out");
  return {false, false, in, n, out, in, out, in, 1.0f, 0.0f};
}

GemmCall dense_bwd_weights(const DenseGeom& g) {
  const int n = blas_dim(g.n, "n"), in = blas_dim(g.in, "in"), out = blas_dim(g.out, "out");
  return {false, true, in, out, n, in, out, in, 1.0f, 0.0f};
}

ConvIdx conv_idx(const ConvGeom& g) {
  CNNB_CHECK(g.c > 0 && g.h > 0 && g.w > 0 && g.r > 0 && g.s > 0 && g.stride > 0 && g.pad >= 0,
             "conv lowering: expected positive sizes, stride > 0 and pad >= 0, got c={} h={} w={} r={} s={} "
             "stride={} pad={}",
             g.c, g.h, g.w, g.r, g.s, g.stride, g.pad);
  CNNB_CHECK(g.p() > 0 && g.q() > 0, "conv lowering: a {}x{} filter with pad {} does not fit a {}x{} input", g.r,
             g.s, g.pad, g.h, g.w);
  return {g.c, g.h, g.w, g.r, g.s, g.stride, g.pad, g.p(), g.q()};
}

void im2col(const ConvIdx& g, const float* x, float* cols) {
  for (int c = 0; c < g.c; ++c)
    for (int i = 0; i < g.r; ++i)
      for (int j = 0; j < g.s; ++j) {
        float* row = cols + ((int64_t(c) * g.r + i) * g.s + j) * g.cols();
        const int off_w = j - g.pad;
        const int q0 = first_inside(off_w, g.stride, g.q), q1 = std::max(q0, first_past(off_w, g.stride, g.w, g.q));
        for (int oh = 0; oh < g.p; ++oh) {
          float* out = row + int64_t(oh) * g.q;
          const int ih = oh * g.stride - g.pad + i;
          if (ih < 0 || ih >= g.h) {
            std::fill(out, out + g.q, 0.0f);
            continue;
          }
          // Columns q0..q1 read x row ih at ow*stride + off_w, inside [0, w).
          const float* in = x + (int64_t(c) * g.h + ih) * g.w;
          std::fill(out, out + q0, 0.0f);
          if (g.stride == 1)
            std::memcpy(out + q0, in + q0 + off_w, sizeof(float) * size_t(q1 - q0));
          else
            for (int ow = q0; ow < q1; ++ow) out[ow] = in[int64_t(ow) * g.stride + off_w];
          std::fill(out + q1, out + g.q, 0.0f);
        }
      }
}

void col2im(const ConvIdx& g, const float* cols, float* dx) {
  std::fill(dx, dx + g.image(), 0.0f);
  for (int c = 0; c < g.c; ++c)
    for (int i = 0; i < g.r; ++i)
      for (int j = 0; j < g.s; ++j) {
        const float* row = cols + ((int64_t(c) * g.r + i) * g.s + j) * g.cols();
        const int off_w = j - g.pad;
        const int q0 = first_inside(off_w, g.stride, g.q), q1 = std::max(q0, first_past(off_w, g.stride, g.w, g.q));
        for (int oh = 0; oh < g.p; ++oh) {
          const int ih = oh * g.stride - g.pad + i;
          if (ih < 0 || ih >= g.h) continue;
          const float* in = row + int64_t(oh) * g.q;
          float* out = dx + (int64_t(c) * g.h + ih) * g.w;
          for (int ow = q0; ow < q1; ++ow) out[int64_t(ow) * g.stride + off_w] += in[ow];
        }
      }
}

}  // namespace cnnb::lowering
