// Reference max pooling, NCHW. Output size rounds down; padded cells never win; ties go to the
// first maximum in row-major window order. Backward recomputes that argmax from x, so every backend
// that follows the same tie rule routes dy to the same cell.
#include <algorithm>

#include "backends/cpu/ref.h"
#include "backends/cpu/scratch.h"
#include "core/error.h"

namespace cnnb::ref {

namespace {

void check_geometry(const PoolGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0, "{}: every size must be positive, got n={} c={} h={} w={}",
             op, g.n, g.c, g.h, g.w);
  // pad < window guarantees that every window holds at least one real cell.
  CNNB_CHECK(g.window > 0 && g.stride > 0 && g.pad >= 0 && g.pad < g.window,
             "{}: expected window > 0, stride > 0 and 0 <= pad < window, got window={} stride={} pad={}", op,
             g.window, g.stride, g.pad);
  CNNB_CHECK(g.p() > 0 && g.q() > 0, "{}: a {}x{} window with pad {} does not fit a {}x{} input", op, g.window,
             g.window, g.pad, g.h, g.w);
}

// Index in one h x w plane of the winner of output cell (p, q).
template <class T>
int64_t argmax_in_window(const T* plane, const PoolGeom& g, int p, int q) {
  int64_t best = -1;
  for (int i = 0; i < g.window; ++i)
    for (int j = 0; j < g.window; ++j) {
      const int ih = p * g.stride - g.pad + i, iw = q * g.stride - g.pad + j;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
      const int64_t idx = int64_t(ih) * g.w + iw;
      if (best < 0 || plane[idx] > plane[best]) best = idx;  // strict '>': the first maximum stays
    }
  return best;
}

}  // namespace

// y[n,c,p,q] = max over the real cells of window (p, q) of x[n,c,:,:]
template <class T>
void pool_fwd(const ExecCtx&, const PoolFwdArgsT<T>& a) {
  const PoolGeom& g = a.g;
  check_geometry(g, "pool_fwd");
  const int P = g.p(), Q = g.q();
  const int64_t planes = int64_t(g.n) * g.c, in_plane = int64_t(g.h) * g.w, out_plane = int64_t(P) * Q;
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* x = a.x + nc * in_plane;
    T* y = a.y + nc * out_plane;
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) y[int64_t(p) * Q + q] = x[argmax_in_window(x, g, p, q)];
  }
}

// dx[n,c,i] = sum of dy[n,c,p,q] over the windows (p, q) whose argmax is cell i (windows overlap
// when stride < window, so one cell may collect several).
template <class T>
void pool_bwd(const ExecCtx& ctx, const PoolBwdArgsT<T>& a) {
  const PoolGeom& g = a.g;
  check_geometry(g, "pool_bwd");
  const int P = g.p(), Q = g.q();
  const int64_t planes = int64_t(g.n) * g.c, in_plane = int64_t(g.h) * g.w, out_plane = int64_t(P) * Q;
  const cpu::Scratch scratch(ctx, {size_t(in_plane) * sizeof(double)});  // the replica's workspace
  double* sum = scratch.part<double>(0);
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* x = a.x + nc * in_plane;
    const T* dy = a.dy + nc * out_plane;
    std::fill(sum, sum + in_plane, 0.0);
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) sum[argmax_in_window(x, g, p, q)] += double(dy[int64_t(p) * Q + q]);
    T* dx = a.dx + nc * in_plane;
    for (int64_t i = 0; i < in_plane; ++i) dx[i] = T(sum[i]);
  }
}

template void pool_fwd<float>(const ExecCtx&, const PoolFwdArgsT<float>&);
template void pool_fwd<double>(const ExecCtx&, const PoolFwdArgsT<double>&);
template void pool_bwd<float>(const ExecCtx&, const PoolBwdArgsT<float>&);
template void pool_bwd<double>(const ExecCtx&, const PoolBwdArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void pool_fwd_ref(const ExecCtx& c, const PoolFwdArgs& a) { ref::pool_fwd<float>(c, a); }
void pool_bwd_ref(const ExecCtx& c, const PoolBwdArgs& a) { ref::pool_bwd<float>(c, a); }

}  // namespace cnnb::cpu
