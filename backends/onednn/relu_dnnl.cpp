// cpu-onednn ReLU: oneDNN eltwise on the flat tensor. The backward is eltwise_relu_use_dst_for_bwd,
// which reads y (dx = y > 0 ? dy : 0), matching ops.h's contract that x may be gone by then.
#include <fmt/format.h>

#include <string>

#include "backends/onednn/dnnl_plan.h"
#include "backends/ops.h"

namespace cnnb::onednn {

namespace {

constexpr auto kRelu = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;

std::string describe(int64_t n, const char* op) { return fmt::format("{}/onednn/dnnl (n{})", op, n); }

memory::desc flat_md(int64_t n) { return f32_md({n}, Tag::a); }

dnnl::eltwise_forward::primitive_desc forward_pd(const dnnl::engine& eng, int64_t n) {
  // alpha = 0: the negative slope, i.e. plain ReLU.
  const dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, kRelu, flat_md(n), 0.0f, 0.0f);
  return {d, plan_attr(), eng};
}

struct FwdPlan {
  dnnl::eltwise_forward prim;
  memory x, y, scratch;
  FwdPlan(const dnnl::engine& eng, int64_t n) {
    const auto pd = forward_pd(eng, n);
    prim = dnnl::eltwise_forward(pd);
    x = memory(flat_md(n), eng, DNNL_MEMORY_NONE);
    y = memory(flat_md(n), eng, DNNL_MEMORY_NONE);
    scratch = scratchpad_for(pd, eng);
  }
};

struct BwdPlan {
  dnnl::eltwise_backward prim;
  memory y, dy, dx, scratch;
  BwdPlan(const dnnl::engine& eng, int64_t n) {
    const dnnl::eltwise_backward::desc d(kRelu, flat_md(n), flat_md(n), 0.0f, 0.0f);
    const dnnl::eltwise_backward::primitive_desc pd(d, plan_attr(), eng, forward_pd(eng, n));
    prim = dnnl::eltwise_backward(pd);
    y = memory(flat_md(n), eng, DNNL_MEMORY_NONE);
    dy = memory(flat_md(n), eng, DNNL_MEMORY_NONE);
    dx = memory(flat_md(n), eng, DNNL_MEMORY_NONE);
    scratch = scratchpad_for(pd, eng);
  }
};

}  // namespace

void relu_fwd_dnnl(const ExecCtx& ctx, const ReluFwdArgs& a) {
  CNNB_CHECK(a.n > 0, "relu_fwd/onednn/dnnl: expected a positive element count, got {}", a.n);
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<FwdPlan> cache;
  FwdPlan& p = cache.get(
      {ctx.threads, a.n}, [&](const dnnl::engine& e) { return FwdPlan(e, a.n); },
      [&] { return describe(a.n, "relu_fwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        bind_input(p.x, a.x);
        p.y.set_data_handle(a.y);
        p.prim.execute(s, {{DNNL_ARG_SRC, p.x}, {DNNL_ARG_DST, p.y}, {DNNL_ARG_SCRATCHPAD, p.scratch}});
        s.wait();
      },
      [&] { return describe(a.n, "relu_fwd"); });
}

void relu_bwd_dnnl(const ExecCtx& ctx, const ReluBwdArgs& a) {
  CNNB_CHECK(a.n > 0, "relu_bwd/onednn/dnnl: expected a positive element count, got {}", a.n);
  const OmpThreads threads(ctx.threads);
  thread_local PlanCache<BwdPlan> cache;
  BwdPlan& p = cache.get(
      {ctx.threads, a.n}, [&](const dnnl::engine& e) { return BwdPlan(e, a.n); },
      [&] { return describe(a.n, "relu_bwd"); });
  auto& s = cache.stream();
  run_checked(
      [&] {
        bind_input(p.y, a.y);
        bind_input(p.dy, a.dy);
        p.dx.set_data_handle(a.dx);
        p.prim.execute(s, {{DNNL_ARG_DST, p.y},
                           {DNNL_ARG_DIFF_DST, p.dy},
                           {DNNL_ARG_DIFF_SRC, p.dx},
                           {DNNL_ARG_SCRATCHPAD, p.scratch}});
        s.wait();
      },
      [&] { return describe(a.n, "relu_bwd"); });
}

}  // namespace cnnb::onednn
