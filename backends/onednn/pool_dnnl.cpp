// cpu-onednn max pooling on the caller's NCHW buffers. oneDNN's pooling_max already has ops.h's rules:
// the output size rounds down (its shape check uses the same formula as PoolGeom::p()), padded cells
// never win (they are skipped, not read as zero), and ties go to the first maximum in row-major window
// order (checked on 2.6.3, both its simple_nchw and its AVX-512 JIT kernel, against cpu-ref on integer
// inputs full of ties).
//
// oneDNN's backward routes dy through a workspace of argmax indices written by a forward_training run.
// pool_bwd receives x and y, not that workspace, so it runs the forward again (into a plan-owned y and
// workspace) and then the backward: the recomputation is part of pool_bwd's time. The workspace also
// makes backward follow exactly the forward's tie choice.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "backends/onednn/dnnl_plan.h"
#include "backends/ops.h"

namespace cnnb::onednn {

namespace {

void check_geometry(const PoolGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.window > 0 && g.stride > 0 && g.pad >= 0 &&
                 g.pad < g.window && g.p() > 0 && g.q() > 0,
             "{}/onednn/dnnl: expected positive sizes and 0 <= pad < window that fit the input, got n={} c={} h={} "
             "w={} window={} stride={} pad={}",
             op, g.n, g.c, g.h, g.w, g.window, g.stride, g.pad);
}

std::string describe(const PoolGeom& g, const char* op) {
  return fmt::format("{}/onednn/dnnl (n{} c{}x{}x{} window{} stride{} pad{})", op, g.n, g.c, g.h, g.w, g.window,
                     g.stride, g.pad);
}

std::vector<int64_t> key_of(const PoolGeom& g, int threads) {
  return {threads, g.n, g.c, g.h, g.w, g.window, g.stride, g.pad};
}

memory::desc x_md(const PoolGeom& g) { return f32_md({g.n, g.c, g.h, g.w}, Tag::nchw); }
memory::desc y_md(const PoolGeom& g) { return f32_md({g.n, g.c, g.p(), g.q()}, Tag::nchw); }

dnnl::pooling_forward::primitive_desc forward_pd(const dnnl::engine& eng, const PoolGeom& g, dnnl::prop_kind prop) {
  const dnnl::pooling_forward::desc d(prop, dnnl::algorithm::pooling_max, x_md(g), y_md(g), {g.stride, g.stride},
                                      {g.window, g.window}, {g.pad, g.pad}, {g.pad, g.pad});
  return {d, plan_attr(), eng};
}

struct FwdPlan {
  dnnl::pooling_forward prim;
  memory x, y, scratch;
  FwdPlan(const dnnl::engine& eng, const PoolGeom& g) {
    // Inference: no workspace to write, since nobody could read it.
    const auto pd = forward_pd(eng, g, dnnl::prop_kind::forward_inference);
    prim = dnnl::pooling_forward(pd);
    x = memory(x_md(g), eng, DNNL_MEMORY_NONE);
    y = memory(y_md(g), eng, DNNL_MEMORY_NONE);
    scratch = scratchpad_for(pd, eng);
  }
};

struct BwdPlan {
  dnnl::pooling_forward fwd;
  dnnl::pooling_backward bwd;
  memory x, y_again, workspace, dy, dx, fwd_scratch, bwd_scratch;
  BwdPlan(const dnnl::engine& eng, const PoolGeom& g) {
    const auto fpd = forward_pd(eng, g, dnnl::prop_kind::forward_training);
    const dnnl::pooling_backward::desc d(dnnl::algorithm::pooling_max, x_md(g), y_md(g), {g.stride, g.stride},
                                         {g.window, g.window}, {g.pad, g.pad}, {g.pad, g.pad});
    const dnnl::pooling_backward::primitive_desc bpd(d, plan_attr(), eng, fpd);
    fwd = dnnl::pooling_forward(fpd);
    bwd = dnnl::pooling_backward(bpd);
    x = memory(x_md(g), eng, DNNL_MEMORY_NONE);
    y_again = memory(fpd.dst_desc(), eng);
    workspace = memory(fpd.workspace_desc(), eng);
    dy = memory(y_md(g), eng, DNNL_MEMORY_NONE);
    dx = memory(x_md(g), eng, DNNL_MEMORY_NONE);
    fwd_scratch = scratchpad_for(fpd, eng);
    bwd_scratch = scratchpad_for(bpd, eng);
  }
};

}  // namespace

void pool_fwd_dnnl(const ExecCtx& ctx, const PoolFwdArgs& a) {
  const PoolGeom& g = a.g;
  check_geometry(g, "pool_fwd");
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<FwdPlan> cache;
  FwdPlan& p = cache.get(
      key_of(g, ctx.threads), [&](const dnnl::engine& e) { return FwdPlan(e, g); },
      [&] { return describe(g, "pool_fwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        bind_input(p.x, a.x);
        p.y.set_data_handle(a.y);
        p.prim.execute(s, {{DNNL_ARG_SRC, p.x}, {DNNL_ARG_DST, p.y}, {DNNL_ARG_SCRATCHPAD, p.scratch}});
        s.wait();
      },
      [&] { return describe(g, "pool_fwd"); });
}

void pool_bwd_dnnl(const ExecCtx& ctx, const PoolBwdArgs& a) {
  const PoolGeom& g = a.g;
  check_geometry(g, "pool_bwd");
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<BwdPlan> cache;
  BwdPlan& p = cache.get(
      key_of(g, ctx.threads), [&](const dnnl::engine& e) { return BwdPlan(e, g); },
      [&] { return describe(g, "pool_bwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        bind_input(p.x, a.x);
        bind_input(p.dy, a.dy);
        p.dx.set_data_handle(a.dx);
        p.fwd.execute(s, {{DNNL_ARG_SRC, p.x},
                          {DNNL_ARG_DST, p.y_again},
                          {DNNL_ARG_WORKSPACE, p.workspace},
                          {DNNL_ARG_SCRATCHPAD, p.fwd_scratch}});
        p.bwd.execute(s, {{DNNL_ARG_DIFF_DST, p.dy},
                          {DNNL_ARG_WORKSPACE, p.workspace},
                          {DNNL_ARG_DIFF_SRC, p.dx},
                          {DNNL_ARG_SCRATCHPAD, p.bwd_scratch}});
        s.wait();
      },
      [&] { return describe(g, "pool_bwd"); });
}

}  // namespace cnnb::onednn
