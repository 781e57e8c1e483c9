// cpu-onednn convolution: oneDNN's direct convolution (not Winograd, whose rounding differs), with every
// tensor in the layout oneDNN prefers (format_tag::any). The caller's NCHW / OIHW buffers are reordered
// into and out of those layouts inside each call, so the reorders count in the op's time, as they would
// in a framework that keeps NCHW at its layer boundaries.
#include <fmt/format.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "backends/onednn/dnnl_plan.h"
#include "backends/ops.h"

namespace cnnb::onednn {

namespace {

using Dir = Staged::Dir;

void check_geometry(const ConvGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 && g.r > 0 && g.s > 0 && g.stride > 0 &&
                 g.pad >= 0 && g.p() > 0 && g.q() > 0,
             "{}/onednn/dnnl: expected positive sizes and a {}x{} filter that fits the {}x{} input with pad {}, got "
             "n={} c={} k={} stride={}",
             op, g.r, g.s, g.h, g.w, g.pad, g.n, g.c, g.k, g.stride);
}

std::string describe(const ConvGeom& g, const char* op) {
  return fmt::format("{}/onednn/dnnl (n{} c{}x{}x{} k{} {}x{} stride{} pad{})", op, g.n, g.c, g.h, g.w, g.k, g.r,
                     g.s, g.stride, g.pad);
}

// The shapes of one convolution in oneDNN's terms. oneDNN checks p = (h + pad_l + pad_r - r) / stride + 1
// with the same rounding down as ConvGeom::p(), so pad_r = pad even when the last window stops short.
struct ConvShapes {
  memory::dims x, w, bias, y, strides, pad_l, pad_r;
  explicit ConvShapes(const ConvGeom& g)
      : x{g.n, g.c, g.h, g.w}, w{g.k, g.c, g.r, g.s}, bias{g.k}, y{g.n, g.k, g.p(), g.q()},
        strides{g.stride, g.stride}, pad_l{g.pad, g.pad}, pad_r{g.pad, g.pad} {}
  static memory::desc any(const memory::dims& d) { return f32_md(d, Tag::any); }
};

// The forward primitive descriptor, also the hint the backward ones need. An empty bias desc = no bias.
dnnl::convolution_forward::primitive_desc forward_pd(const dnnl::engine& eng, const ConvShapes& s, bool bias) {
  const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                          s.any(s.x), s.any(s.w), bias ? s.any(s.bias) : memory::desc(), s.any(s.y),
                                          s.strides, s.pad_l, s.pad_r);
  return {d, plan_attr(), eng};
}

struct FwdPlan {
  dnnl::convolution_forward prim;
  Staged x, w, bias, y;
  memory scratch;
  FwdPlan(const dnnl::engine& eng, const ConvGeom& g, bool with_bias) {
    const ConvShapes s(g);
    const auto pd = forward_pd(eng, s, with_bias);
    prim = dnnl::convolution_forward(pd);
    x = Staged(eng, f32_md(s.x, Tag::nchw), pd.src_desc(), Dir::in);
    w = Staged(eng, f32_md(s.w, Tag::oihw), pd.weights_desc(), Dir::in);
    if (with_bias) bias = Staged(eng, f32_md(s.bias, Tag::x), pd.bias_desc(), Dir::in);
    y = Staged(eng, f32_md(s.y, Tag::nchw), pd.dst_desc(), Dir::out);
    scratch = scratchpad_for(pd, eng);
  }
};

struct BwdDataPlan {
  dnnl::convolution_backward_data prim;
  Staged dy, w, dx;
  memory scratch;
  BwdDataPlan(const dnnl::engine& eng, const ConvGeom& g) {
    const ConvShapes s(g);
    const dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, s.any(s.x), s.any(s.w),
                                                  s.any(s.y), s.strides, s.pad_l, s.pad_r);
    const dnnl::convolution_backward_data::primitive_desc pd(d, plan_attr(), eng, forward_pd(eng, s, false));
    prim = dnnl::convolution_backward_data(pd);
    dy = Staged(eng, f32_md(s.y, Tag::nchw), pd.diff_dst_desc(), Dir::in);
    w = Staged(eng, f32_md(s.w, Tag::oihw), pd.weights_desc(), Dir::in);
    dx = Staged(eng, f32_md(s.x, Tag::nchw), pd.diff_src_desc(), Dir::out);
    scratch = scratchpad_for(pd, eng);
  }
};

struct BwdFilterPlan {
  dnnl::convolution_backward_weights prim;
  Staged x, dy, dw, dbias;
  memory scratch;
  BwdFilterPlan(const dnnl::engine& eng, const ConvGeom& g, bool with_bias) {
    const ConvShapes s(g);
    const dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, s.any(s.x), s.any(s.w),
                                                     with_bias ? s.any(s.bias) : memory::desc(), s.any(s.y),
                                                     s.strides, s.pad_l, s.pad_r);
    const dnnl::convolution_backward_weights::primitive_desc pd(d, plan_attr(), eng,
                                                                forward_pd(eng, s, with_bias));
    prim = dnnl::convolution_backward_weights(pd);
    x = Staged(eng, f32_md(s.x, Tag::nchw), pd.src_desc(), Dir::in);
    dy = Staged(eng, f32_md(s.y, Tag::nchw), pd.diff_dst_desc(), Dir::in);
    dw = Staged(eng, f32_md(s.w, Tag::oihw), pd.diff_weights_desc(), Dir::out);
    if (with_bias) dbias = Staged(eng, f32_md(s.bias, Tag::x), pd.diff_bias_desc(), Dir::out);
    scratch = scratchpad_for(pd, eng);
  }
};

std::vector<int64_t> key_of(const ConvGeom& g, int threads, bool flag) {
  return {threads, g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad, flag};
}

}  // namespace

void conv_fwd_dnnl(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const ConvGeom& g = a.g;
  check_geometry(g, "conv_fwd");
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<FwdPlan> cache;
  const bool with_bias = a.bias != nullptr;
  FwdPlan& p = cache.get(
      key_of(g, ctx.threads, with_bias), [&](const dnnl::engine& e) { return FwdPlan(e, g, with_bias); },
      [&] { return describe(g, "conv_fwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, p.x.in(s, a.x)},
                                             {DNNL_ARG_WEIGHTS, p.w.in(s, a.w)},
                                             {DNNL_ARG_DST, p.y.out(a.y)},
                                             {DNNL_ARG_SCRATCHPAD, p.scratch}};
        if (with_bias) args.emplace(DNNL_ARG_BIAS, p.bias.in(s, a.bias));
        p.prim.execute(s, args);
        p.y.finish(s);
        s.wait();
      },
      [&] { return describe(g, "conv_fwd"); });
}

void conv_bwd_data_dnnl(const ExecCtx& ctx, const ConvBwdDataArgs& a) {
  const ConvGeom& g = a.g;
  check_geometry(g, "conv_bwd_data");
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<BwdDataPlan> cache;
  BwdDataPlan& p = cache.get(
      key_of(g, ctx.threads, false), [&](const dnnl::engine& e) { return BwdDataPlan(e, g); },
      [&] { return describe(g, "conv_bwd_data"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        p.prim.execute(s, {{DNNL_ARG_DIFF_DST, p.dy.in(s, a.dy)},
                           {DNNL_ARG_WEIGHTS, p.w.in(s, a.w)},
                           {DNNL_ARG_DIFF_SRC, p.dx.out(a.dx)},
                           {DNNL_ARG_SCRATCHPAD, p.scratch}});
        p.dx.finish(s);
        s.wait();
      },
      [&] { return describe(g, "conv_bwd_data"); });
}

void conv_bwd_filter_dnnl(const ExecCtx& ctx, const ConvBwdFilterArgs& a) {
  const ConvGeom& g = a.g;
  check_geometry(g, "conv_bwd_filter");
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<BwdFilterPlan> cache;
  const bool with_bias = a.dbias != nullptr;
  BwdFilterPlan& p = cache.get(
      key_of(g, ctx.threads, with_bias), [&](const dnnl::engine& e) { return BwdFilterPlan(e, g, with_bias); },
      [&] { return describe(g, "conv_bwd_filter"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, p.x.in(s, a.x)},
                                             {DNNL_ARG_DIFF_DST, p.dy.in(s, a.dy)},
                                             {DNNL_ARG_DIFF_WEIGHTS, p.dw.out(a.dw)},
                                             {DNNL_ARG_SCRATCHPAD, p.scratch}};
        if (with_bias) args.emplace(DNNL_ARG_DIFF_BIAS, p.dbias.out(a.dbias));
        p.prim.execute(s, args);
        p.dw.finish(s);
        if (with_bias) p.dbias.finish(s);
        s.wait();
      },
      [&] { return describe(g, "conv_bwd_filter"); });
}

}  // namespace cnnb::onednn
