// Reference convolution: cross-correlation with stride and zero padding, NCHW, PyTorch weight
// layout [k, c, r, s]. Each output element is one double sum, written once (backward ops overwrite).
#include "backends/cpu/ref.h"
#include "core/error.h"

namespace cnnb::ref {

namespace {

void check_geometry(const ConvGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 && g.r > 0 && g.s > 0,
             "{}: every size must be positive, got n={} c={} h={} w={} k={} r={} s={}", op, g.n, g.c, g.h,
             g.w, g.k, g.r, g.s);
  CNNB_CHECK(g.stride > 0 && g.pad >= 0, "{}: expected stride > 0 and pad >= 0, got stride={} pad={}", op,
             g.stride, g.pad);
  CNNB_CHECK(g.p() > 0 && g.q() > 0, "{}: a {}x{} filter with pad {} does not fit a {}x{} input", op, g.r,
             g.s, g.pad, g.h, g.w);
}

// Flat NCHW / KCRS offsets.
int64_t at(int a, int b, int c, int d, int B, int C, int D) { return ((int64_t(a) * B + b) * C + c) * D + d; }

}  // namespace

// y[n,k,p,q] = bias[k] + sum_{c,r,s} x[n, c, p*stride - pad + r, q*stride - pad + s] * w[k,c,r,s]
// (input cells outside the image read as zero; bias may be null).
template <class T>
void conv_fwd(const ExecCtx&, const ConvFwdArgsT<T>& a) {
  const ConvGeom& g = a.g;
  check_geometry(g, "conv_fwd");
  const int P = g.p(), Q = g.q();
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          double sum = a.bias ? double(a.bias[k]) : 0.0;
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                sum += double(a.x[at(n, c, ih, iw, g.c, g.h, g.w)]) * double(a.w[at(k, c, r, s, g.c, g.r, g.s)]);
              }
          a.y[at(n, k, p, q, g.k, P, Q)] = T(sum);
        }
}

// dx[n,c,ih,iw] = sum over every (k, p, q, r, s) with p*stride - pad + r = ih and q*stride - pad + s = iw
//                 of dy[n,k,p,q] * w[k,c,r,s]
// Written as a gather over (r, s): the output row that reads input row ih through filter row r is
// p = (ih + pad - r) / stride, when that division is exact and p is inside the output.
template <class T>
void conv_bwd_data(const ExecCtx&, const ConvBwdDataArgsT<T>& a) {
  const ConvGeom& g = a.g;
  check_geometry(g, "conv_bwd_data");
  const int P = g.p(), Q = g.q();
  for (int n = 0; n < g.n; ++n)
    for (int c = 0; c < g.c; ++c)
      for (int ih = 0; ih < g.h; ++ih)
        for (int iw = 0; iw < g.w; ++iw) {
          double sum = 0.0;
          for (int k = 0; k < g.k; ++k)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int ph = ih + g.pad - r, qw = iw + g.pad - s;
                if (ph < 0 || qw < 0 || ph % g.stride != 0 || qw % g.stride != 0) continue;
                const int p = ph / g.stride, q = qw / g.stride;
                if (p >= P || q >= Q) continue;
                sum += double(a.dy[at(n, k, p, q, g.k, P, Q)]) * double(a.w[at(k, c, r, s, g.c, g.r, g.s)]);
              }
          a.dx[at(n, c, ih, iw, g.c, g.h, g.w)] = T(sum);
        }
}

// dw[k,c,r,s] = sum_{n,p,q} dy[n,k,p,q] * x[n, c, p*stride - pad + r, q*stride - pad + s]
// dbias[k]    = sum_{n,p,q} dy[n,k,p,q]   (skipped when dbias is null)
template <class T>
void conv_bwd_filter(const ExecCtx&, const ConvBwdFilterArgsT<T>& a) {
  const ConvGeom& g = a.g;
  check_geometry(g, "conv_bwd_filter");
  const int P = g.p(), Q = g.q();
  for (int k = 0; k < g.k; ++k)
    for (int c = 0; c < g.c; ++c)
      for (int r = 0; r < g.r; ++r)
        for (int s = 0; s < g.s; ++s) {
          double sum = 0.0;
          for (int n = 0; n < g.n; ++n)
            for (int p = 0; p < P; ++p)
              for (int q = 0; q < Q; ++q) {
                const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                sum += double(a.dy[at(n, k, p, q, g.k, P, Q)]) * double(a.x[at(n, c, ih, iw, g.c, g.h, g.w)]);
              }
          a.dw[at(k, c, r, s, g.c, g.r, g.s)] = T(sum);
        }
  if (!a.dbias) return;
  for (int k = 0; k < g.k; ++k) {
    double sum = 0.0;
    for (int n = 0; n < g.n; ++n)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) sum += double(a.dy[at(n, k, p, q, g.k, P, Q)]);
    a.dbias[k] = T(sum);
  }
}

template void conv_fwd<float>(const ExecCtx&, const ConvFwdArgsT<float>&);
template void conv_fwd<double>(const ExecCtx&, const ConvFwdArgsT<double>&);
template void conv_bwd_data<float>(const ExecCtx&, const ConvBwdDataArgsT<float>&);
template void conv_bwd_data<double>(const ExecCtx&, const ConvBwdDataArgsT<double>&);
template void conv_bwd_filter<float>(const ExecCtx&, const ConvBwdFilterArgsT<float>&);
template void conv_bwd_filter<double>(const ExecCtx&, const ConvBwdFilterArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void conv_fwd_ref(const ExecCtx& c, const ConvFwdArgs& a) { ref::conv_fwd<float>(c, a); }
void conv_bwd_data_ref(const ExecCtx& c, const ConvBwdDataArgs& a) { ref::conv_bwd_data<float>(c, a); }
void conv_bwd_filter_ref(const ExecCtx& c, const ConvBwdFilterArgs& a) { ref::conv_bwd_filter<float>(c, a); }

}  // namespace cnnb::cpu
