// cpu-onednn fully connected layer: oneDNN's inner product on the caller's buffers as they are. Its
// plain layouts are nn.Linear's: x is nc [n, in], w is oi [out, in], y is nc [n, out], so no reorder is
// needed (oneDNN runs them through its GEMM kernels).
#include <fmt/format.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "backends/onednn/dnnl_plan.h"
#include "backends/ops.h"

namespace cnnb::onednn {

namespace {

void check_geometry(const DenseGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.in > 0 && g.out > 0, "{}/onednn/dnnl: every size must be positive, got n={} in={} out={}",
             op, g.n, g.in, g.out);
}

std::string describe(const DenseGeom& g, const char* op) {
  return fmt::format("{}/onednn/dnnl (n{} in{} out{})", op, g.n, g.in, g.out);
}

memory::desc x_md(const DenseGeom& g) { return f32_md({g.n, g.in}, Tag::nc); }
memory::desc w_md(const DenseGeom& g) { return f32_md({g.out, g.in}, Tag::oi); }
memory::desc b_md(const DenseGeom& g) { return f32_md({g.out}, Tag::x); }
memory::desc y_md(const DenseGeom& g) { return f32_md({g.n, g.out}, Tag::nc); }

// An empty memory::desc in a bias slot means "no bias" to oneDNN.
dnnl::inner_product_forward::primitive_desc forward_pd(const dnnl::engine& eng, const DenseGeom& g, bool bias) {
  const dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_training, x_md(g), w_md(g),
                                            bias ? b_md(g) : memory::desc(), y_md(g));
  return {d, plan_attr(), eng};
}

struct FwdPlan {
  dnnl::inner_product_forward prim;
  memory x, w, bias, y, scratch;
  FwdPlan(const dnnl::engine& eng, const DenseGeom& g, bool with_bias) {
    const auto pd = forward_pd(eng, g, with_bias);
    prim = dnnl::inner_product_forward(pd);
    x = memory(x_md(g), eng, DNNL_MEMORY_NONE);
    w = memory(w_md(g), eng, DNNL_MEMORY_NONE);
    bias = memory(b_md(g), eng, DNNL_MEMORY_NONE);
    y = memory(y_md(g), eng, DNNL_MEMORY_NONE);
    scratch = scratchpad_for(pd, eng);
  }
};

struct BwdPlan {
  dnnl::inner_product_backward_data data;  // empty when dx is not wanted
  dnnl::inner_product_backward_weights weights;
  memory x, w, dy, dx, dw, dbias, data_scratch, weights_scratch;
  BwdPlan(const dnnl::engine& eng, const DenseGeom& g, bool with_dx, bool with_dbias) {
    const auto hint = forward_pd(eng, g, with_dbias);
    if (with_dx) {
      const dnnl::inner_product_backward_data::desc d(x_md(g), w_md(g), y_md(g));
      const dnnl::inner_product_backward_data::primitive_desc pd(d, plan_attr(), eng, hint);
      data = dnnl::inner_product_backward_data(pd);
      data_scratch = scratchpad_for(pd, eng);
    }
    const dnnl::inner_product_backward_weights::desc d(x_md(g), w_md(g), with_dbias ? b_md(g) : memory::desc(),
                                                       y_md(g));
    const dnnl::inner_product_backward_weights::primitive_desc pd(d, plan_attr(), eng, hint);
    weights = dnnl::inner_product_backward_weights(pd);
    weights_scratch = scratchpad_for(pd, eng);
    x = memory(x_md(g), eng, DNNL_MEMORY_NONE);
    w = memory(w_md(g), eng, DNNL_MEMORY_NONE);
    dy = memory(y_md(g), eng, DNNL_MEMORY_NONE);
    dx = memory(x_md(g), eng, DNNL_MEMORY_NONE);
    dw = memory(w_md(g), eng, DNNL_MEMORY_NONE);
    dbias = memory(b_md(g), eng, DNNL_MEMORY_NONE);
  }
};

}  // namespace

void dense_fwd_dnnl(const ExecCtx& ctx, const DenseFwdArgs& a) {
  const DenseGeom& g = a.g;
  check_geometry(g, "dense_fwd");
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<FwdPlan> cache;
  const bool with_bias = a.bias != nullptr;
  FwdPlan& p = cache.get(
      {ctx.threads, g.n, g.in, g.out, with_bias},
      [&](const dnnl::engine& e) { return FwdPlan(e, g, with_bias); }, [&] { return describe(g, "dense_fwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        bind_input(p.x, a.x);
        bind_input(p.w, a.w);
        p.y.set_data_handle(a.y);
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, p.x}, {DNNL_ARG_WEIGHTS, p.w}, {DNNL_ARG_DST, p.y}, {DNNL_ARG_SCRATCHPAD, p.scratch}};
        if (with_bias) {
          bind_input(p.bias, a.bias);
          args.emplace(DNNL_ARG_BIAS, p.bias);
        }
        p.prim.execute(s, args);
        s.wait();
      },
      [&] { return describe(g, "dense_fwd"); });
}

void dense_bwd_dnnl(const ExecCtx& ctx, const DenseBwdArgs& a) {
  const DenseGeom& g = a.g;
  check_geometry(g, "dense_bwd");
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<BwdPlan> cache;
  const bool with_dx = a.dx != nullptr, with_dbias = a.dbias != nullptr;
  BwdPlan& p = cache.get(
      {ctx.threads, g.n, g.in, g.out, with_dx, with_dbias},
      [&](const dnnl::engine& e) { return BwdPlan(e, g, with_dx, with_dbias); },
      [&] { return describe(g, "dense_bwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        bind_input(p.x, a.x);
        bind_input(p.w, a.w);
        bind_input(p.dy, a.dy);
        p.dw.set_data_handle(a.dw);
        if (with_dx) {
          p.dx.set_data_handle(a.dx);
          p.data.execute(s, {{DNNL_ARG_DIFF_DST, p.dy},
                             {DNNL_ARG_WEIGHTS, p.w},
                             {DNNL_ARG_DIFF_SRC, p.dx},
                             {DNNL_ARG_SCRATCHPAD, p.data_scratch}});
        }
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, p.x},
                                             {DNNL_ARG_DIFF_DST, p.dy},
                                             {DNNL_ARG_DIFF_WEIGHTS, p.dw},
                                             {DNNL_ARG_SCRATCHPAD, p.weights_scratch}};
        if (with_dbias) {
          p.dbias.set_data_handle(a.dbias);
          args.emplace(DNNL_ARG_DIFF_BIAS, p.dbias);
        }
        p.weights.execute(s, args);
        s.wait();
      },
      [&] { return describe(g, "dense_bwd"); });
}

}  // namespace cnnb::onednn
