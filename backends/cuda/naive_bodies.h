#pragma once
// What one thread of a cuda/naive kernel computes, as functions of explicit indices.
//
// One thread per OUTPUT element everywhere, so no thread writes where another does and nothing
// needs atomics: the backward ops gather (each dx / dw element sums over the outputs it fed), and
// the results are the same run to run. Accumulation is plain float arithmetic in a fixed order
// (optimizers use double: they are memory-bound and their inputs are not exact).
// The kernels (backends/cuda/*_naive.cu) run these bodies in a grid-stride loop, through the
// launchers of naive_launchers.h; tests/test_cuda_twins.cpp runs the same launchers with a host grid
// against cpu-ref.
// Semantics are backends/ops.h's: overwrite, never accumulate; pool ties go to the first maximum
// in row-major window order; LRN is cuDNN's definition.
// C++17, and it must compile with a plain C++ compiler.
#include <math.h>  // the C names (expf, powf, ...) exist on host and device alike

#include <cstdint>

#include "backends/cuda/hd.h"
#include "backends/ops.h"

namespace cnnb::cuda {

// The Geom structs' own p()/q() are host-only functions; these are their device-callable twins.
CNNB_HD inline int conv_out_h(const ConvGeom& g) { return (g.h + 2 * g.pad - g.r) / g.stride + 1; }
CNNB_HD inline int conv_out_w(const ConvGeom& g) { return (g.w + 2 * g.pad - g.s) / g.stride + 1; }
CNNB_HD inline int pool_out_h(const PoolGeom& g) { return (g.h + 2 * g.pad - g.window) / g.stride + 1; }
CNNB_HD inline int pool_out_w(const PoolGeom& g) { return (g.w + 2 * g.pad - g.window) / g.stride + 1; }

// Output positions o in [0, out) whose window [o*stride - pad, o*stride - pad + window) contains
// input position i: [lo, hi], empty when lo > hi.
struct IndexRange { int lo, hi; };
CNNB_HD inline IndexRange windows_covering(int i, int window, int stride, int pad, int out) {
  const int first = i + pad - window + 1;  // o*stride >= first
  IndexRange r;
  r.lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  r.hi = (i + pad) / stride;  // i + pad >= 0
  if (r.hi > out - 1) r.hi = out - 1;
  return r;
}

// ---- convolution

CNNB_HD inline float conv_fwd_at(const ConvFwdArgs& a, int64_t i) {
  const ConvGeom& g = a.g;
  const int P = conv_out_h(g), Q = conv_out_w(g);
  const int q = int(i % Q);
  const int p = int(i / Q % P);
  const int k = int(i / (int64_t(Q) * P) % g.k);
  const int64_t n = i / (int64_t(Q) * P * g.k);
  float acc = 0.0f;
  for (int c = 0; c < g.c; ++c) {
    const float* x = a.x + (n * g.c + c) * g.h * g.w;
    const float* w = a.w + (int64_t(k) * g.c + c) * g.r * g.s;
    for (int r = 0; r < g.r; ++r) {
      const int ih = p * g.stride - g.pad + r;
      if (ih < 0 || ih >= g.h) continue;
      for (int s = 0; s < g.s; ++s) {
        const int iw = q * g.stride - g.pad + s;
        if (iw < 0 || iw >= g.w) continue;
        acc += x[int64_t(ih) * g.w + iw] * w[r * g.s + s];
      }
    }
  }
  return a.bias ? acc + a.bias[k] : acc;
}

// dx[n,c,h,w] = sum over k and the (r,s) taps that reached (h,w) from a valid output (p,q).
CNNB_HD inline float conv_bwd_data_at(const ConvBwdDataArgs& a, int64_t i) {
  const ConvGeom& g = a.g;
  const int P = conv_out_h(g), Q = conv_out_w(g);
  const int iw = int(i % g.w);
  const int ih = int(i / g.w % g.h);
  const int c = int(i / (int64_t(g.w) * g.h) % g.c);
  const int64_t n = i / (int64_t(g.w) * g.h * g.c);
  float acc = 0.0f;
  for (int k = 0; k < g.k; ++k) {
    const float* dy = a.dy + (n * g.k + k) * P * Q;
    const float* w = a.w + (int64_t(k) * g.c + c) * g.r * g.s;
    for (int r = 0; r < g.r; ++r) {
      const int ph = ih + g.pad - r;  // = p * stride
      if (ph < 0 || ph % g.stride != 0 || ph / g.stride >= P) continue;
      const int p = ph / g.stride;
      for (int s = 0; s < g.s; ++s) {
        const int qw = iw + g.pad - s;
        if (qw < 0 || qw % g.stride != 0 || qw / g.stride >= Q) continue;
        acc += dy[int64_t(p) * Q + qw / g.stride] * w[r * g.s + s];
      }
    }
  }
  return acc;
}

// dw[k,c,r,s] = sum over n,p,q of dy[n,k,p,q] * x[n,c,p*stride-pad+r,q*stride-pad+s].
CNNB_HD inline float conv_bwd_filter_at(const ConvBwdFilterArgs& a, int64_t i) {
  const ConvGeom& g = a.g;
  const int P = conv_out_h(g), Q = conv_out_w(g);
  const int s = int(i % g.s);
  const int r = int(i / g.s % g.r);
  const int c = int(i / (int64_t(g.s) * g.r) % g.c);
  const int k = int(i / (int64_t(g.s) * g.r * g.c));
  float acc = 0.0f;
  for (int64_t n = 0; n < g.n; ++n) {
    const float* x = a.x + (n * g.c + c) * g.h * g.w;
    const float* dy = a.dy + (n * g.k + k) * P * Q;
    for (int p = 0; p < P; ++p) {
      const int ih = p * g.stride - g.pad + r;
      if (ih < 0 || ih >= g.h) continue;
      for (int q = 0; q < Q; ++q) {
        const int iw = q * g.stride - g.pad + s;
        if (iw < 0 || iw >= g.w) continue;
        acc += dy[int64_t(p) * Q + q] * x[int64_t(ih) * g.w + iw];
      }
    }
  }
  return acc;
}

CNNB_HD inline float conv_bwd_bias_at(const ConvBwdFilterArgs& a, int k) {
  const ConvGeom& g = a.g;
  const int64_t pq = int64_t(conv_out_h(g)) * conv_out_w(g);
  float acc = 0.0f;
  for (int64_t n = 0; n < g.n; ++n) {
    const float* dy = a.dy + (n * g.k + k) * pq;
    for (int64_t j = 0; j < pq; ++j) acc += dy[j];
  }
  return acc;
}

// ---- ReLU

CNNB_HD inline float relu_fwd_at(const ReluFwdArgs& a, int64_t i) { return a.x[i] > 0.0f ? a.x[i] : 0.0f; }
CNNB_HD inline float relu_bwd_at(const ReluBwdArgs& a, int64_t i) { return a.y[i] > 0.0f ? a.dy[i] : 0.0f; }

// ---- max pooling

// Index (ih*w + iw) in one input plane of the maximum of window (p,q): the first maximum in
// row-major window order; padded cells never win; -1 only if the window holds no input cell.
CNNB_HD inline int pool_argmax(const PoolGeom& g, const float* plane, int p, int q) {
  int best = -1;
  float best_v = 0.0f;
  for (int r = 0; r < g.window; ++r) {
    const int ih = p * g.stride - g.pad + r;
    if (ih < 0 || ih >= g.h) continue;
    for (int s = 0; s < g.window; ++s) {
      const int iw = q * g.stride - g.pad + s;
      if (iw < 0 || iw >= g.w) continue;
      const float v = plane[ih * g.w + iw];
      if (best < 0 || v > best_v) {
        best = ih * g.w + iw;
        best_v = v;
      }
    }
  }
  return best;
}

CNNB_HD inline float pool_fwd_at(const PoolFwdArgs& a, int64_t i) {
  const PoolGeom& g = a.g;
  const int P = pool_out_h(g), Q = pool_out_w(g);
  const int q = int(i % Q);
  const int p = int(i / Q % P);
  const int64_t plane_index = i / (int64_t(Q) * P);  // n*C + c
  const float* plane = a.x + plane_index * g.h * g.w;
  const int m = pool_argmax(g, plane, p, q);
  return m >= 0 ? plane[m] : -INFINITY;
}

// dx[n,c,h,w] = sum of dy over the windows whose (first) maximum is (h,w).
CNNB_HD inline float pool_bwd_at(const PoolBwdArgs& a, int64_t i) {
  const PoolGeom& g = a.g;
  const int P = pool_out_h(g), Q = pool_out_w(g);
  const int iw = int(i % g.w);
  const int ih = int(i / g.w % g.h);
  const int64_t plane_index = i / (int64_t(g.w) * g.h);
  const float* plane = a.x + plane_index * g.h * g.w;
  const float* dy = a.dy + plane_index * P * Q;
  const IndexRange pr = windows_covering(ih, g.window, g.stride, g.pad, P);
  const IndexRange qr = windows_covering(iw, g.window, g.stride, g.pad, Q);
  const int me = ih * g.w + iw;
  float acc = 0.0f;
  for (int p = pr.lo; p <= pr.hi; ++p)
    for (int q = qr.lo; q <= qr.hi; ++q)
      if (pool_argmax(g, plane, p, q) == me) acc += dy[int64_t(p) * Q + q];
  return acc;
}

// ---- LRN across channels (cuDNN): s[c] = k + alpha/size * sum_{j in window(c)} x[j]^2,
// window(c) = [c - look_behind, c + look_ahead] clipped to [0, C).

CNNB_HD inline int lrn_look_behind(const LrnGeom& g) { return (g.size - 1) / 2; }
CNNB_HD inline int lrn_look_ahead(const LrnGeom& g) { return g.size - 1 - lrn_look_behind(g); }

// x points at channel 0 of one (n, h, w) column; consecutive channels are hw apart.
CNNB_HD inline float lrn_scale(const LrnGeom& g, const float* x, int64_t hw, int c) {
  const int lo = c - lrn_look_behind(g) < 0 ? 0 : c - lrn_look_behind(g);
  const int hi = c + lrn_look_ahead(g) > g.c - 1 ? g.c - 1 : c + lrn_look_ahead(g);
  float sum = 0.0f;
  for (int j = lo; j <= hi; ++j) sum += x[j * hw] * x[j * hw];
  return float(g.k) + float(g.alpha / g.size) * sum;
}

CNNB_HD inline float lrn_fwd_at(const LrnFwdArgs& a, int64_t i) {
  const LrnGeom& g = a.g;
  const int64_t hw = int64_t(g.h) * g.w;
  const int64_t pos = i % hw;
  const int c = int(i / hw % g.c);
  const int64_t n = i / (hw * g.c);
  const float* x = a.x + n * g.c * hw + pos;
  return x[c * hw] * powf(lrn_scale(g, x, hw, c), -float(g.beta));
}

// dx[c] = dy[c] * s[c]^-beta - (2 alpha beta / size) * x[c] * sum_{j : c in window(j)} dy[j] y[j] / s[j]
// (Caffe's derivation); c is in window(j) exactly when j is in [c - look_ahead, c + look_behind].
CNNB_HD inline float lrn_bwd_at(const LrnBwdArgs& a, int64_t i) {
  const LrnGeom& g = a.g;
  const int64_t hw = int64_t(g.h) * g.w;
  const int64_t pos = i % hw;
  const int c = int(i / hw % g.c);
  const int64_t base = i / (hw * g.c) * g.c * hw + pos;
  const float* x = a.x + base;
  const float* y = a.y + base;
  const float* dy = a.dy + base;
  const int lo = c - lrn_look_ahead(g) < 0 ? 0 : c - lrn_look_ahead(g);
  const int hi = c + lrn_look_behind(g) > g.c - 1 ? g.c - 1 : c + lrn_look_behind(g);
  float sum = 0.0f;
  for (int j = lo; j <= hi; ++j) sum += dy[j * hw] * y[j * hw] / lrn_scale(g, x, hw, j);
  const float beta = float(g.beta);
  return dy[c * hw] * powf(lrn_scale(g, x, hw, c), -beta) -
         float(2.0 * g.alpha * g.beta / g.size) * x[c * hw] * sum;
}

// ---- fully connected

CNNB_HD inline float dense_fwd_at(const DenseFwdArgs& a, int64_t i) {
  const DenseGeom& g = a.g;
  const int o = int(i % g.out);
  const int64_t n = i / g.out;
  const float* x = a.x + n * g.in;
  const float* w = a.w + int64_t(o) * g.in;
  float acc = 0.0f;
  for (int j = 0; j < g.in; ++j) acc += x[j] * w[j];
  return a.bias ? acc + a.bias[o] : acc;
}

// dx[n,j] = sum_o dy[n,o] w[o,j]
CNNB_HD inline float dense_bwd_data_at(const DenseBwdArgs& a, int64_t i) {
  const DenseGeom& g = a.g;
  const int j = int(i % g.in);
  const int64_t n = i / g.in;
  float acc = 0.0f;
  for (int o = 0; o < g.out; ++o) acc += a.dy[n * g.out + o] * a.w[int64_t(o) * g.in + j];
  return acc;
}

// dw[o,j] = sum_n dy[n,o] x[n,j]
CNNB_HD inline float dense_bwd_filter_at(const DenseBwdArgs& a, int64_t i) {
  const DenseGeom& g = a.g;
  const int j = int(i % g.in);
  const int o = int(i / g.in);
  float acc = 0.0f;
  for (int64_t n = 0; n < g.n; ++n) acc += a.dy[n * g.out + o] * a.x[n * g.in + j];
  return acc;
}

CNNB_HD inline float dense_bwd_bias_at(const DenseBwdArgs& a, int o) {
  float acc = 0.0f;
  for (int64_t n = 0; n < a.g.n; ++n) acc += a.dy[n * a.g.out + o];
  return acc;
}

// ---- softmax cross-entropy: one thread per sample writes its loss and its row of dlogits (either
// may be null). A label outside [0, classes) cannot throw on a GPU as cpu-ref does: its loss and
// gradients become NaN instead, which the trainer's NaN-loss check reports.
CNNB_HD inline void softmax_xent_row(const SoftmaxXentArgs& a, int row) {
  const int C = a.classes;
  const float* z = a.logits + int64_t(row) * C;
  float m = z[0];
  for (int j = 1; j < C; ++j) m = z[j] > m ? z[j] : m;
  float sum = 0.0f;
  for (int j = 0; j < C; ++j) sum += expf(z[j] - m);
  const int label = a.labels[row];
  const bool valid = label >= 0 && label < C;
  if (a.loss) a.loss[row] = valid ? m + logf(sum) - z[label] : NAN;
  if (!a.dlogits) return;
  float* dz = a.dlogits + int64_t(row) * C;
  for (int j = 0; j < C; ++j)
    dz[j] = valid ? (expf(z[j] - m) / sum - (j == label ? 1.0f : 0.0f)) / float(a.n) : NAN;
}

// ---- optimizers: one thread per parameter, in place.

// With momentum 0 the velocity may be null (the launcher checks that it is not null otherwise).
CNNB_HD inline void sgd_update_at(const SgdArgs& a, int64_t i) {
  const double p = a.param[i];
  const double g = double(a.grad[i]) + a.h.weight_decay * p;
  double step = g;
  if (a.velocity) {
    step = a.h.momentum * double(a.velocity[i]) + g;
    a.velocity[i] = float(step);
  }
  a.param[i] = float(p - a.h.lr * step);
}

// Adam's bias corrections depend only on the step: computed once on the host, not per thread.
struct AdamCoef {
  double correction1;  // 1 - beta1^t
  double correction2;  // 1 - beta2^t
};
inline AdamCoef adam_coef(const AdamHyper& h) {
  return {1.0 - pow(h.beta1, double(h.step)), 1.0 - pow(h.beta2, double(h.step))};
}

CNNB_HD inline void adam_update_at(const AdamArgs& a, const AdamCoef& k, int64_t i) {
  const AdamHyper& h = a.h;
  const double p = a.param[i];
  const double g = double(a.grad[i]) + h.weight_decay * p;
  const double m = h.beta1 * double(a.m[i]) + (1.0 - h.beta1) * g;
  const double v = h.beta2 * double(a.v[i]) + (1.0 - h.beta2) * g * g;
  a.m[i] = float(m);
  a.v[i] = float(v);
  a.param[i] = float(p - h.lr * (m / k.correction1) / (sqrt(v / k.correction2) + h.eps));
}

// ---- one functor per kernel: what thread i of its grid does (a DeviceGrid launches it, a HostGrid
// loops over it; naive_launchers.h decides which run and over how many elements).

struct ConvFwdY {
  ConvFwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.y[i] = conv_fwd_at(a, i); }
};
struct ConvBwdDataDx {
  ConvBwdDataArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dx[i] = conv_bwd_data_at(a, i); }
};
struct ConvBwdFilterDw {
  ConvBwdFilterArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dw[i] = conv_bwd_filter_at(a, i); }
};
struct ConvBwdFilterDbias {
  ConvBwdFilterArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dbias[i] = conv_bwd_bias_at(a, int(i)); }
};
struct ReluFwdY {
  ReluFwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.y[i] = relu_fwd_at(a, i); }
};
struct ReluBwdDx {
  ReluBwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dx[i] = relu_bwd_at(a, i); }
};
struct PoolFwdY {
  PoolFwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.y[i] = pool_fwd_at(a, i); }
};
struct PoolBwdDx {
  PoolBwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dx[i] = pool_bwd_at(a, i); }
};
struct LrnFwdY {
  LrnFwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.y[i] = lrn_fwd_at(a, i); }
};
struct LrnBwdDx {
  LrnBwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dx[i] = lrn_bwd_at(a, i); }
};
struct DenseFwdY {
  DenseFwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.y[i] = dense_fwd_at(a, i); }
};
struct DenseBwdDx {
  DenseBwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dx[i] = dense_bwd_data_at(a, i); }
};
struct DenseBwdDw {
  DenseBwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dw[i] = dense_bwd_filter_at(a, i); }
};
struct DenseBwdDbias {
  DenseBwdArgs a;
  CNNB_HD void operator()(int64_t i) const { a.dbias[i] = dense_bwd_bias_at(a, int(i)); }
};
struct SoftmaxXentRows {
  SoftmaxXentArgs a;
  CNNB_HD void operator()(int64_t i) const { softmax_xent_row(a, int(i)); }
};
struct SgdStep {
  SgdArgs a;
  CNNB_HD void operator()(int64_t i) const { sgd_update_at(a, i); }
};
struct AdamStep {
  AdamArgs a;
  AdamCoef k;
  CNNB_HD void operator()(int64_t i) const { adam_update_at(a, k, i); }
};

}  // namespace cnnb::cuda
