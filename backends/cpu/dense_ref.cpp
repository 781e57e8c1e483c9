// Reference fully connected layer, PyTorch nn.Linear: x is [n, in], w is [out, in], y is [n, out].
#include "backends/cpu/ref.h"
#include "core/error.h"

namespace cnnb::ref {

namespace {

void check_geometry(const DenseGeom& g, const char* op) {
  CNNB_CHECK(g.n > 0 && g.in > 0 && g.out > 0, "{}: every size must be positive, got n={} in={} out={}", op, g.n,
             g.in, g.out);
}

}  // namespace

// y[n,o] = bias[o] + sum_i x[n,i] * w[o,i]   (bias may be null)
template <class T>
void dense_fwd(const ExecCtx&, const DenseFwdArgsT<T>& a) {
  const DenseGeom& g = a.g;
  check_geometry(g, "dense_fwd");
  for (int n = 0; n < g.n; ++n)
    for (int o = 0; o < g.out; ++o) {
      double sum = a.bias ? double(a.bias[o]) : 0.0;
      for (int i = 0; i < g.in; ++i) sum += double(a.x[int64_t(n) * g.in + i]) * double(a.w[int64_t(o) * g.in + i]);
      a.y[int64_t(n) * g.out + o] = T(sum);
    }
}

// dx[n,i] = sum_o dy[n,o] * w[o,i]   (skipped when dx is null: the first layer has no one to pass it to)
// dw[o,i] = sum_n dy[n,o] * x[n,i]
// dbias[o] = sum_n dy[n,o]           (skipped when dbias is null)
template <class T>
void dense_bwd(const ExecCtx&, const DenseBwdArgsT<T>& a) {
  const DenseGeom& g = a.g;
  check_geometry(g, "dense_bwd");
  if (a.dx)
    for (int n = 0; n < g.n; ++n)
      for (int i = 0; i < g.in; ++i) {
        double sum = 0.0;
        for (int o = 0; o < g.out; ++o)
          sum += double(a.dy[int64_t(n) * g.out + o]) * double(a.w[int64_t(o) * g.in + i]);
        a.dx[int64_t(n) * g.in + i] = T(sum);
      }
  for (int o = 0; o < g.out; ++o)
    for (int i = 0; i < g.in; ++i) {
      double sum = 0.0;
      for (int n = 0; n < g.n; ++n) sum += double(a.dy[int64_t(n) * g.out + o]) * double(a.x[int64_t(n) * g.in + i]);
      a.dw[int64_t(o) * g.in + i] = T(sum);
    }
  if (a.dbias)
    for (int o = 0; o < g.out; ++o) {
      double sum = 0.0;
      for (int n = 0; n < g.n; ++n) sum += double(a.dy[int64_t(n) * g.out + o]);
      a.dbias[o] = T(sum);
    }
}

template void dense_fwd<float>(const ExecCtx&, const DenseFwdArgsT<float>&);
template void dense_fwd<double>(const ExecCtx&, const DenseFwdArgsT<double>&);
template void dense_bwd<float>(const ExecCtx&, const DenseBwdArgsT<float>&);
template void dense_bwd<double>(const ExecCtx&, const DenseBwdArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void dense_fwd_ref(const ExecCtx& c, const DenseFwdArgs& a) { ref::dense_fwd<float>(c, a); }
void dense_bwd_ref(const ExecCtx& c, const DenseBwdArgs& a) { ref::dense_bwd<float>(c, a); }

}  // namespace cnnb::cpu
