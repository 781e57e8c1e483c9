// cpu-gemm local response normalisation (cuDNN's definition, see backends/cpu/lrn_ref.cpp for the
// derivation), in float, one (n, c) plane per task so the inner loops run along contiguous pixels.
// Backward keeps two planes-sized scratch arrays (s^-beta and dy*y/s) so that each is computed once
// and the cross-channel sum is a plain window sum over them. Scratch (those arrays and one window-sum
// plane per thread) comes from the replica's workspace.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "backends/cpu/scratch.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cpu {

namespace {

void check_geometry(const LrnGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.size > 0,
             "{}/cpu/omp: expected positive sizes, got n={} c={} h={} w={} size={}", op, g.n, g.c, g.h, g.w, g.size);
}

// s = k + (alpha/size) * sum of x_j^2 over channel c's window, for every pixel of image x (channel planes
// `plane` apart).
void window_sums(const LrnGeom& g, const float* x, int c, int64_t plane, float* s) {
  const float k = float(g.k), a = float(g.alpha / g.size);
  std::fill(s, s + plane, 0.0f);
  for (int j = std::max(0, c - g.look_behind()); j <= std::min(g.c - 1, c + g.look_ahead()); ++j) {
    const float* xj = x + j * plane;
    for (int64_t i = 0; i < plane; ++i) s[i] += xj[i] * xj[i];
  }
  for (int64_t i = 0; i < plane; ++i) s[i] = k + a * s[i];
}

}  // namespace

void lrn_fwd_omp(const ExecCtx& ctx, const LrnFwdArgs& a) {
  const LrnGeom& g = a.g;
  check_geometry(g, "lrn_fwd");
  const int64_t plane = int64_t(g.h) * g.w, image = plane * g.c;
  const float neg_beta = float(-g.beta);
  const Scratch scratch(ctx, {size_t(ctx.threads) * size_t(plane) * sizeof(float)});
#pragma omp parallel num_threads(ctx.threads) if (g.x_size() >= 4096)
  {
    float* s = scratch.part<float>(0) + omp_get_thread_num() * plane;
#pragma omp for collapse(2) schedule(static)
    for (int n = 0; n < g.n; ++n)
      for (int c = 0; c < g.c; ++c) {
        const float* x = a.x + n * image;
        window_sums(g, x, c, plane, s);
        const float* xc = x + c * plane;
        float* y = a.y + n * image + c * plane;
        for (int64_t i = 0; i < plane; ++i) y[i] = xc[i] * std::pow(s[i], neg_beta);
      }
  }
}

void lrn_bwd_omp(const ExecCtx& ctx, const LrnBwdArgs& a) {
  const LrnGeom& g = a.g;
  check_geometry(g, "lrn_bwd");
  const int64_t plane = int64_t(g.h) * g.w, image = plane * g.c;
  const float neg_beta = float(-g.beta), coef = float(2.0 * g.alpha * g.beta / g.size);
  const size_t x_bytes = size_t(g.x_size()) * sizeof(float);
  const Scratch scratch(ctx, {x_bytes, x_bytes, size_t(ctx.threads) * size_t(plane) * sizeof(float)});
  float* scale = scratch.part<float>(0);  // s^-beta
  float* ratio = scratch.part<float>(1);  // dy*y/s
  const bool parallel = g.x_size() >= 4096;
#pragma omp parallel num_threads(ctx.threads) if (parallel)
  {
    float* s = scratch.part<float>(2) + omp_get_thread_num() * plane;
#pragma omp for collapse(2) schedule(static)
    for (int n = 0; n < g.n; ++n)
      for (int c = 0; c < g.c; ++c) {
        window_sums(g, a.x + n * image, c, plane, s);
        const int64_t base = n * image + c * plane;
        for (int64_t i = 0; i < plane; ++i) {
          scale[base + i] = std::pow(s[i], neg_beta);
          ratio[base + i] = a.dy[base + i] * a.y[base + i] / s[i];
        }
      }
    // Channel c collects the ratio of every channel j whose window holds c: c - la <= j <= c + lb.
#pragma omp for collapse(2) schedule(static)
    for (int n = 0; n < g.n; ++n)
      for (int c = 0; c < g.c; ++c) {
        std::fill(s, s + plane, 0.0f);
        for (int j = std::max(0, c - g.look_ahead()); j <= std::min(g.c - 1, c + g.look_behind()); ++j) {
          const float* r = ratio + n * image + j * plane;
          for (int64_t i = 0; i < plane; ++i) s[i] += r[i];
        }
        const int64_t base = n * image + c * plane;
        for (int64_t i = 0; i < plane; ++i)
          a.dx[base + i] = a.dy[base + i] * scale[base + i] - coef * a.x[base + i] * s[i];
      }
  }
}

}  // namespace cnnb::cpu
