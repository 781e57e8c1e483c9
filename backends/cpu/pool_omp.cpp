// cpu-gemm max pooling: the reference's rule (padded cells never win, ties go to the first maximum in
// row-major window order) with the window clipped to the image up front, one (n, c) plane per task.
// Planes are independent, so backward's scatter into dx needs no atomics.
#include <algorithm>

#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cpu {

namespace {

void check_geometry(const PoolGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.window > 0 && g.stride > 0 && g.pad >= 0 &&
                 g.pad < g.window && g.p() > 0 && g.q() > 0,
             "{}/cpu/omp: expected positive sizes and 0 <= pad < window that fit the input, got n={} c={} h={} "
             "w={} window={} stride={} pad={}",
             op, g.n, g.c, g.h, g.w, g.window, g.stride, g.pad);
}

// Index within one h x w plane of the first maximum of output cell (oh, ow)'s window.
int64_t argmax_in_window(const float* plane, const PoolGeom& g, int oh, int ow) {
  const int h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
  const int h_begin = std::max(h0, 0), h_end = std::min(h0 + g.window, g.h);
  const int w_begin = std::max(w0, 0), w_end = std::min(w0 + g.window, g.w);
  int64_t best = int64_t(h_begin) * g.w + w_begin;
  for (int ih = h_begin; ih < h_end; ++ih)
    for (int iw = w_begin; iw < w_end; ++iw) {
      const int64_t idx = int64_t(ih) * g.w + iw;
      if (plane[idx] > plane[best]) best = idx;
    }
  return best;
}

}  // namespace

void pool_fwd_omp(const ExecCtx& ctx, const PoolFwdArgs& a) {
  const PoolGeom& g = a.g;
  check_geometry(g, "pool_fwd");
  const int P = g.p(), Q = g.q();
  const int64_t planes = int64_t(g.n) * g.c, in_plane = int64_t(g.h) * g.w, out_plane = int64_t(P) * Q;
#pragma omp parallel for num_threads(ctx.threads) schedule(static) if (g.y_size() >= 4096)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* x = a.x + nc * in_plane;
    float* y = a.y + nc * out_plane;
    for (int oh = 0; oh < P; ++oh)
      for (int ow = 0; ow < Q; ++ow) y[int64_t(oh) * Q + ow] = x[argmax_in_window(x, g, oh, ow)];
  }
}

void pool_bwd_omp(const ExecCtx& ctx, const PoolBwdArgs& a) {
  const PoolGeom& g = a.g;
  check_geometry(g, "pool_bwd");
  const int P = g.p(), Q = g.q();
  const int64_t planes = int64_t(g.n) * g.c, in_plane = int64_t(g.h) * g.w, out_plane = int64_t(P) * Q;
#pragma omp parallel for num_threads(ctx.threads) schedule(static) if (g.x_size() >= 4096)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* x = a.x + nc * in_plane;
    const float* dy = a.dy + nc * out_plane;
    float* dx = a.dx + nc * in_plane;
    std::fill(dx, dx + in_plane, 0.0f);
    for (int oh = 0; oh < P; ++oh)
      for (int ow = 0; ow < Q; ++ow) dx[argmax_in_window(x, g, oh, ow)] += dy[int64_t(oh) * Q + ow];
  }
}

}  // namespace cnnb::cpu
