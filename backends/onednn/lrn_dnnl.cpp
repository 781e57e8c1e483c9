// cpu-onednn LRN across channels. The caller's tensors are NCHW; the layout oneDNN runs in is chosen per
// geometry (pick_layout below).
//
// oneDNN 2.6's lrn_across_channels (dev_guide_lrn; n = local_size, integer division) computes
//   y[c] = x[c] * (k + alpha / n * sum_{i = -(n-1)/2 .. (n+1)/2 - 1} x[c + i]^2)^(-beta)
// with channels outside 0..C-1 left out: alpha is divided by n as in cuDNN and ops.h. For odd n the window
// c - (n-1)/2 .. c + (n-1)/2 is exactly ops.h's c - lb .. c + la. For even n it is not: oneDNN sums only
// n - 1 channels, symmetric around c (measured on 2.6.3: size 4 sums c-1..c+1, still dividing by 4), while
// cuDNN sums n, one more ahead (la = lb + 1). No oneDNN LRN parameter gives that window, so even sizes run
// the cpu/omp variant (cpu/ref if that is not built). The presets use odd sizes (5, 9).
//
// Backward: oneDNN's vectorised backward reads a workspace written by a forward_training run. lrn_bwd
// receives x and y, not that workspace, so it then recomputes the forward into plan-owned buffers first
// (part of its time). The reference kernel needs no workspace.
#include <fmt/format.h>

#include <bit>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backends/onednn/dnnl_plan.h"
#include "backends/ops.h"
#include "backends/registry.h"

namespace cnnb::onednn {

namespace {

void check_geometry(const LrnGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.size > 0,
             "{}/onednn/dnnl: expected positive sizes and window, got n={} c={} h={} w={} size={}", op, g.n, g.c, g.h,
             g.w, g.size);
}

std::string describe(const LrnGeom& g, const char* op) {
  return fmt::format("{}/onednn/dnnl (n{} c{}x{}x{} size{} alpha{} beta{} k{})", op, g.n, g.c, g.h, g.w, g.size,
                     g.alpha, g.beta, g.k);
}

std::vector<int64_t> key_of(const LrnGeom& g, int threads) {
  return {threads, g.n, g.c, g.h, g.w, g.size, std::bit_cast<int64_t>(g.alpha), std::bit_cast<int64_t>(g.beta),
          std::bit_cast<int64_t>(g.k)};
}

template <Op op>
typename OpTraits<op>::Fn even_size_variant() {
  const KernelInfo* k = find_kernel(op, "cpu", "omp");
  if (!k) k = find_kernel(op, "cpu", "ref");
  CNNB_ASSERT(k != nullptr);
  return kernel_fn<op>(*k);
}

memory::desc data_md(const LrnGeom& g, Tag layout) { return f32_md({g.n, g.c, g.h, g.w}, layout); }

dnnl::lrn_forward::primitive_desc forward_pd(const dnnl::engine& eng, const LrnGeom& g, Tag layout,
                                             dnnl::prop_kind prop) {
  const dnnl::lrn_forward::desc d(prop, dnnl::algorithm::lrn_across_channels, data_md(g, layout), g.size,
                                  float(g.alpha), float(g.beta), float(g.k));
  return {d, plan_attr(), eng};
}

dnnl::lrn_backward::primitive_desc backward_pd(const dnnl::engine& eng, const LrnGeom& g, Tag layout,
                                               const dnnl::lrn_forward::primitive_desc& hint) {
  const dnnl::lrn_backward::desc d(dnnl::algorithm::lrn_across_channels, data_md(g, layout), data_md(g, layout),
                                   g.size, float(g.alpha), float(g.beta), float(g.k));
  return {d, plan_attr(), eng, hint};
}

bool is_reference(const dnnl::primitive_desc_base& pd) {
  return std::string_view(pd.impl_info_str()).find("ref") != std::string_view::npos;
}

// The layout the primitives run in. oneDNN 2.6 has vectorised LRN kernels only for some layouts and
// sizes. On AVX-512 (2.6.3) nhwc has them for every odd size; nchw has only an AVX2 forward for size 5
// (9 ms on a 64x64x16x16 batch against 0.9 ms in nhwc plus 1.9 ms of reorders) and otherwise the
// reference kernel, whose backward recomputes every window sum per term (250 ms there, slower than
// cpu/ref). So the primitives run in nhwc when oneDNN has a non-reference kernel for it, the reorders to
// and from it counted in each call, else on the NCHW buffers as given. Size 1 backward stays on NCHW:
// 2.6.3's nhwc JIT backward crashes (SIGSEGV) for local_size 1.
Tag pick_layout(const dnnl::engine& eng, const LrnGeom& g, bool backward) {
  if (backward && g.size == 1) return Tag::nchw;
  const auto fpd = forward_pd(eng, g, Tag::nhwc,
                              backward ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference);
  const bool vectorised = !is_reference(fpd) && !(backward && is_reference(backward_pd(eng, g, Tag::nhwc, fpd)));
  return vectorised ? Tag::nhwc : Tag::nchw;
}

struct FwdPlan {
  dnnl::lrn_forward prim;
  Staged x, y;
  memory scratch;
  FwdPlan(const dnnl::engine& eng, const LrnGeom& g) {
    const Tag layout = pick_layout(eng, g, false);
    const auto pd = forward_pd(eng, g, layout, dnnl::prop_kind::forward_inference);
    prim = dnnl::lrn_forward(pd);
    x = Staged(eng, data_md(g, Tag::nchw), pd.src_desc(), Staged::Dir::in);
    y = Staged(eng, data_md(g, Tag::nchw), pd.dst_desc(), Staged::Dir::out);
    scratch = scratchpad_for(pd, eng);
  }
};

struct BwdPlan {
  bool recompute = false;  // the backward needs the forward's workspace
  dnnl::lrn_forward fwd;
  dnnl::lrn_backward bwd;
  Staged x, dy, dx;
  memory y_again, workspace, fwd_scratch, bwd_scratch;
  BwdPlan(const dnnl::engine& eng, const LrnGeom& g) {
    const Tag layout = pick_layout(eng, g, true);
    const auto fpd = forward_pd(eng, g, layout, dnnl::prop_kind::forward_training);
    const auto bpd = backward_pd(eng, g, layout, fpd);
    bwd = dnnl::lrn_backward(bpd);
    x = Staged(eng, data_md(g, Tag::nchw), bpd.src_desc(), Staged::Dir::in);
    dy = Staged(eng, data_md(g, Tag::nchw), bpd.diff_dst_desc(), Staged::Dir::in);
    dx = Staged(eng, data_md(g, Tag::nchw), bpd.diff_src_desc(), Staged::Dir::out);
    bwd_scratch = scratchpad_for(bpd, eng);
    recompute = bpd.workspace_desc().get_size() > 0;
    if (recompute) {
      fwd = dnnl::lrn_forward(fpd);
      y_again = memory(fpd.dst_desc(), eng);
      workspace = memory(fpd.workspace_desc(), eng);
      fwd_scratch = scratchpad_for(fpd, eng);
    }
  }
};

}  // namespace

void lrn_fwd_dnnl(const ExecCtx& ctx, const LrnFwdArgs& a) {
  const LrnGeom& g = a.g;
  check_geometry(g, "lrn_fwd");
  if (g.size % 2 == 0) return even_size_variant<Op::lrn_fwd>()(ctx, a);
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<FwdPlan> cache;
  FwdPlan& p = cache.get(
      key_of(g, ctx.threads), [&](const dnnl::engine& e) { return FwdPlan(e, g); },
      [&] { return describe(g, "lrn_fwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        p.prim.execute(s, {{DNNL_ARG_SRC, p.x.in(s, a.x)},
                           {DNNL_ARG_DST, p.y.out(a.y)},
                           {DNNL_ARG_SCRATCHPAD, p.scratch}});
        p.y.finish(s);
        s.wait();
      },
      [&] { return describe(g, "lrn_fwd"); });
}

void lrn_bwd_dnnl(const ExecCtx& ctx, const LrnBwdArgs& a) {
  const LrnGeom& g = a.g;
  check_geometry(g, "lrn_bwd");
  if (g.size % 2 == 0) return even_size_variant<Op::lrn_bwd>()(ctx, a);
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<BwdPlan> cache;
  BwdPlan& p = cache.get(
      key_of(g, ctx.threads), [&](const dnnl::engine& e) { return BwdPlan(e, g); },
      [&] { return describe(g, "lrn_bwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        const memory& x = p.x.in(s, a.x);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x},
                                             {DNNL_ARG_DIFF_DST, p.dy.in(s, a.dy)},
                                             {DNNL_ARG_DIFF_SRC, p.dx.out(a.dx)},
                                             {DNNL_ARG_SCRATCHPAD, p.bwd_scratch}};
        if (p.recompute) {
          p.fwd.execute(s, {{DNNL_ARG_SRC, x},
                            {DNNL_ARG_DST, p.y_again},
                            {DNNL_ARG_WORKSPACE, p.workspace},
                            {DNNL_ARG_SCRATCHPAD, p.fwd_scratch}});
          args.emplace(DNNL_ARG_WORKSPACE, p.workspace);
        }
        p.bwd.execute(s, args);
        p.dx.finish(s);
        s.wait();
      },
      [&] { return describe(g, "lrn_bwd"); });
}

}  // namespace cnnb::onednn
