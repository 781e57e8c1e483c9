// Reference local response normalisation across channels, cuDNN's definition (alpha is divided by
// the window size). For one pixel of one image, with C channels, lb = (size-1)/2, la = size-1-lb:
//
//   window(c) = { j : c - lb <= j <= c + la, 0 <= j < C }
//   s_c = k + (alpha / size) * sum_{j in window(c)} x_j^2
//   y_c = x_c * s_c^(-beta)
//
// Backward. x_c enters y_c directly and every s_j whose window holds c, with ds_j/dx_c = (2 alpha / size) x_c:
//
//   dy_j/dx_c = [j == c] * s_c^(-beta)  -  beta * x_j * s_j^(-beta-1) * (2 alpha / size) * x_c * [c in window(j)]
//
// so, with x_j * s_j^(-beta-1) = y_j / s_j,
//
//   dx_c = dy_c * s_c^(-beta)  -  (2 alpha beta / size) * x_c * sum_{j : c in window(j)} dy_j * y_j / s_j
//
// and c in window(j) exactly when c - la <= j <= c + lb.
#include <algorithm>
#include <cmath>

#include "backends/cpu/ref.h"
#include "backends/cpu/scratch.h"
#include "core/error.h"

namespace cnnb::ref {

namespace {

void check_geometry(const LrnGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0, "{}: every size must be positive, got n={} c={} h={} w={}",
             op, g.n, g.c, g.h, g.w);
  CNNB_CHECK(g.size > 0, "{}: the window size must be positive, got {}", op, g.size);
}

// s_c for every channel of the pixel whose channel 0 is at x[0], channels `stride` apart.
template <class T>
void window_sums(const LrnGeom& g, const T* x, int64_t stride, double* s) {
  for (int c = 0; c < g.c; ++c) {
    double sum_sq = 0.0;
    for (int j = std::max(0, c - g.look_behind()); j <= std::min(g.c - 1, c + g.look_ahead()); ++j) {
      const double xj = double(x[j * stride]);
      sum_sq += xj * xj;
    }
    s[c] = g.k + g.alpha / g.size * sum_sq;
  }
}

}  // namespace

template <class T>
void lrn_fwd(const ExecCtx& ctx, const LrnFwdArgsT<T>& a) {
  const LrnGeom& g = a.g;
  check_geometry(g, "lrn_fwd");
  const int64_t plane = int64_t(g.h) * g.w, image = plane * g.c;
  const cpu::Scratch scratch(ctx, {size_t(g.c) * sizeof(double)});  // the replica's workspace
  double* s = scratch.part<double>(0);
  for (int n = 0; n < g.n; ++n)
    for (int64_t pixel = 0; pixel < plane; ++pixel) {
      const T* x = a.x + n * image + pixel;
      T* y = a.y + n * image + pixel;
      window_sums(g, x, plane, s);
      for (int c = 0; c < g.c; ++c) y[c * plane] = T(double(x[c * plane]) * std::pow(s[c], -g.beta));
    }
}

template <class T>
void lrn_bwd(const ExecCtx& ctx, const LrnBwdArgsT<T>& a) {
  const LrnGeom& g = a.g;
  check_geometry(g, "lrn_bwd");
  const int64_t plane = int64_t(g.h) * g.w, image = plane * g.c;
  const cpu::Scratch scratch(ctx, {size_t(g.c) * sizeof(double)});  // the replica's workspace
  double* s = scratch.part<double>(0);
  for (int n = 0; n < g.n; ++n)
    for (int64_t pixel = 0; pixel < plane; ++pixel) {
      const int64_t base = n * image + pixel;
      const T *x = a.x + base, *y = a.y + base, *dy = a.dy + base;
      T* dx = a.dx + base;
      window_sums(g, x, plane, s);
      for (int c = 0; c < g.c; ++c) {
        double cross = 0.0;  // sum_{j : c in window(j)} dy_j * y_j / s_j
        for (int j = std::max(0, c - g.look_ahead()); j <= std::min(g.c - 1, c + g.look_behind()); ++j)
          cross += double(dy[j * plane]) * double(y[j * plane]) / s[j];
        dx[c * plane] = T(double(dy[c * plane]) * std::pow(s[c], -g.beta) -
                          2.0 * g.alpha * g.beta / g.size * double(x[c * plane]) * cross);
      }
    }
}

template void lrn_fwd<float>(const ExecCtx&, const LrnFwdArgsT<float>&);
template void lrn_fwd<double>(const ExecCtx&, const LrnFwdArgsT<double>&);
template void lrn_bwd<float>(const ExecCtx&, const LrnBwdArgsT<float>&);
template void lrn_bwd<double>(const ExecCtx&, const LrnBwdArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void lrn_fwd_ref(const ExecCtx& c, const LrnFwdArgs& a) { ref::lrn_fwd<float>(c, a); }
void lrn_bwd_ref(const ExecCtx& c, const LrnBwdArgs& a) { ref::lrn_bwd<float>(c, a); }

}  // namespace cnnb::cpu
