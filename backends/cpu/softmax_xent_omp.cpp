// cpu-gemm softmax cross-entropy: the reference's max-shifted formulas in float, one sample per task.
// Labels are checked before the parallel loop, since nothing may throw out of an OpenMP region.
#include <algorithm>
#include <cmath>

#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cpu {

void softmax_xent_omp(const ExecCtx& ctx, const SoftmaxXentArgs& a) {
  CNNB_CHECK(a.n > 0 && a.classes > 0, "softmax_xent/cpu/omp: expected n > 0 and classes > 0, got n={} classes={}",
             a.n, a.classes);
  for (int i = 0; i < a.n; ++i)
    if (a.labels[i] < 0 || a.labels[i] >= a.classes)
      fail("softmax_xent/cpu/omp: label {} of sample {} is outside [0, {})", a.labels[i], i, a.classes);
  const float inv_n = 1.0f / float(a.n);
#pragma omp parallel for num_threads(ctx.threads) schedule(static) if (int64_t(a.n) * a.classes >= 16384)
  for (int i = 0; i < a.n; ++i) {
    const float* z = a.logits + int64_t(i) * a.classes;
    const int label = a.labels[i];
    const float m = *std::max_element(z, z + a.classes);
    float sum = 0.0f;
    for (int j = 0; j < a.classes; ++j) sum += std::exp(z[j] - m);
    if (a.loss) a.loss[i] = (m - z[label]) + std::log(sum);
    if (a.dlogits) {
      float* dz = a.dlogits + int64_t(i) * a.classes;
      const float inv_sum = 1.0f / sum;
      for (int j = 0; j < a.classes; ++j) dz[j] = (std::exp(z[j] - m) * inv_sum - (j == label ? 1.0f : 0.0f)) * inv_n;
    }
  }
}

}  // namespace cnnb::cpu
