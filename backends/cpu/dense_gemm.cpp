// cpu-gemm fully connected layer: the whole batch is one SGEMM per product (arguments from
// backends/lowering.h, shared with cuBLAS), cut into blocks over the replica's OpenMP threads.
#include <algorithm>

#include "backends/cpu/blas.h"
#include "backends/lowering.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cpu {

void dense_fwd_gemm(const ExecCtx& ctx, const DenseFwdArgs& a) {
  const DenseGeom& g = a.g;
  const lowering::GemmCall gemm = lowering::dense_fwd(g);
  use_single_threaded_blas();
  sgemm_parallel(gemm, a.w, a.x, a.y, ctx.threads);
  if (!a.bias) return;
#pragma omp parallel for num_threads(ctx.threads) schedule(static) if (int64_t(g.n) * g.out >= 16384)
  for (int n = 0; n < g.n; ++n) {
    float* row = a.y + int64_t(n) * g.out;
    for (int o = 0; o < g.out; ++o) row[o] += a.bias[o];
  }
}

void dense_bwd_gemm(const ExecCtx& ctx, const DenseBwdArgs& a) {
  const DenseGeom& g = a.g;
  const lowering::GemmCall data = lowering::dense_bwd_data(g), weights = lowering::dense_bwd_weights(g);
  use_single_threaded_blas();
  if (a.dx) sgemm_parallel(data, a.w, a.dy, a.dx, ctx.threads);
  sgemm_parallel(weights, a.x, a.dy, a.dw, ctx.threads);
  if (!a.dbias) return;
#pragma omp parallel for num_threads(ctx.threads) schedule(static) if (int64_t(g.n) * g.out >= 16384)
  for (int o = 0; o < g.out; ++o) {
    double sum = 0.0;
    for (int n = 0; n < g.n; ++n) sum += a.dy[int64_t(n) * g.out + o];
    a.dbias[o] = float(sum);
  }
}

}  // namespace cnnb::cpu
