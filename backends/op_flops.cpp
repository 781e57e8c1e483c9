// Work per op call, for GFLOP/s counters. Conventions, chosen so that every backend of one op is
// credited with the same count whatever algorithm it runs (these count the definition, not the
// arithmetic a particular kernel does):
//   - one multiply-add = 2 FLOP;
//   - convolution and dense count their multiply-adds only: bias adds, padding skips and index
//     math are not counted, so conv fwd = 2*N*K*P*Q*C*R*S and bwd data and bwd filter each the same;
//   - dense bwd = 2*N*in*out for dw, the same again when dx is computed, plus N*out for dbias;
//   - elementwise ops count about one FLOP per element (a comparison or a select counts as one);
//   - max pooling counts one comparison per window cell per output, backward the same (the argmax
//     is recomputed) plus one add per output;
//   - LRN ~ size+5 per element forward (square-and-add over the window, scale, pow, multiply) and
//     ~ 2*size+8 backward (the window sums again, the cross sum over the window, pow, combine);
//   - softmax cross-entropy ~ 5 per logit (max, subtract, exp, sum, normalise and subtract the one-hot);
//   - SGD ~ 4 per parameter (decay, momentum, step), Adam ~ 12 per parameter.
// exp, log, pow and sqrt count as one FLOP each.
#include "backends/ops.h"

namespace cnnb {

namespace {

double conv_macs(const ConvGeom& g) { return double(g.n) * g.k * g.p() * g.q() * g.c * g.r * g.s; }
double pool_window_reads(const PoolGeom& g) { return double(g.y_size()) * g.window * g.window; }

}  // namespace

double op_flops(const ConvFwdArgs& a) { return 2.0 * conv_macs(a.g); }
double op_flops(const ConvBwdDataArgs& a) { return 2.0 * conv_macs(a.g); }
double op_flops(const ConvBwdFilterArgs& a) { return 2.0 * conv_macs(a.g); }

double op_flops(const ReluFwdArgs& a) { return double(a.n); }
double op_flops(const ReluBwdArgs& a) { return double(a.n); }

double op_flops(const PoolFwdArgs& a) { return pool_window_reads(a.g); }
double op_flops(const PoolBwdArgs& a) { return pool_window_reads(a.g) + double(a.g.y_size()); }

double op_flops(const LrnFwdArgs& a) { return double(a.g.x_size()) * (a.g.size + 5); }
double op_flops(const LrnBwdArgs& a) { return double(a.g.x_size()) * (2 * a.g.size + 8); }

double op_flops(const DenseFwdArgs& a) { return 2.0 * a.g.n * a.g.in * a.g.out; }
double op_flops(const DenseBwdArgs& a) {
  const double gemm = 2.0 * a.g.n * a.g.in * a.g.out;
  return (a.dx ? 2.0 * gemm : gemm) + (a.dbias ? double(a.g.n) * a.g.out : 0.0);
}

double op_flops(const SoftmaxXentArgs& a) { return 5.0 * a.n * a.classes; }

double op_flops(const SgdArgs& a) { return 4.0 * double(a.n); }
double op_flops(const AdamArgs& a) { return 12.0 * double(a.n); }

}  // namespace cnnb
