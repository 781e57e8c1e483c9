// cpu-gemm optimizer steps: the reference's update rules (torch.optim.SGD / Adam) in float, split
// over OpenMP threads. Scalars that do not depend on the element (bias corrections) are computed
// once in double.
#include <cmath>

#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
}

void sgd_update_omp(const ExecCtx& ctx, const SgdArgs& a) {
  CNNB_CHECK(a.velocity || a.h.momentum == 0.0, "sgd_update/cpu/omp: momentum {} needs a velocity buffer, got none",
             a.h.momentum);
  const float lr = float(a.h.lr), momentum = float(a.h.momentum), wd = float(a.h.weight_decay);
  if (a.velocity) {
#pragma omp parallel for simd num_threads(ctx.threads) schedule(static) if (a.n >= kParallelMin)
    for (int64_t i = 0; i < a.n; ++i) {
      const float v = momentum * a.velocity[i] + (a.grad[i] + wd * a.param[i]);
      a.velocity[i] = v;
      a.param[i] -= lr * v;
    }
  } else {
#pragma omp parallel for simd num_threads(ctx.threads) schedule(static) if (a.n >= kParallelMin)
    for (int64_t i = 0; i < a.n; ++i) a.param[i] -= lr * (a.grad[i] + wd * a.param[i]);
  }
}

void adam_update_omp(const ExecCtx& ctx, const AdamArgs& a) {
  const AdamHyper& h = a.h;
  CNNB_CHECK(h.step >= 1, "adam_update/cpu/omp: the step count starts at 1, got {}", h.step);
  // 1 - beta in double: 1.0f - 0.999f is 0.0010000467, off by 5e-5 relative.
  const float lr = float(h.lr), b1 = float(h.beta1), b2 = float(h.beta2), eps = float(h.eps),
              wd = float(h.weight_decay), one_b1 = float(1.0 - h.beta1), one_b2 = float(1.0 - h.beta2);
  const float inv_c1 = float(1.0 / (1.0 - std::pow(h.beta1, double(h.step))));
  const float inv_c2 = float(1.0 / (1.0 - std::pow(h.beta2, double(h.step))));
#pragma omp parallel for simd num_threads(ctx.threads) schedule(static) if (a.n >= kParallelMin)
  for (int64_t i = 0; i < a.n; ++i) {
    const float g = a.grad[i] + wd * a.param[i];
    const float m = b1 * a.m[i] + one_b1 * g;
    const float v = b2 * a.v[i] + one_b2 * g * g;
    a.m[i] = m;
    a.v[i] = v;
    a.param[i] -= lr * (m * inv_c1) / (std::sqrt(v * inv_c2) + eps);
  }
}

}  // namespace cnnb::cpu
