// cpu-gemm ReLU: the reference's expressions, split over OpenMP threads. Small tensors stay on the
// calling thread, where waking the team would cost more than the work.
#include "backends/ops.h"

namespace cnnb::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}

void relu_fwd_omp(const ExecCtx& ctx, const ReluFwdArgs& a) {
#pragma omp parallel for simd num_threads(ctx.threads) schedule(static) if (a.n >= kParallelMin)
  for (int64_t i = 0; i < a.n; ++i) a.y[i] = a.x[i] > 0.0f ? a.x[i] : 0.0f;
}

void relu_bwd_omp(const ExecCtx& ctx, const ReluBwdArgs& a) {
#pragma omp parallel for simd num_threads(ctx.threads) schedule(static) if (a.n >= kParallelMin)
  for (int64_t i = 0; i < a.n; ++i) a.dx[i] = a.y[i] > 0.0f ? a.dy[i] : 0.0f;
}

}  // namespace cnnb::cpu
