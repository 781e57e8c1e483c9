// Reference ReLU. The backward pass reads y, not x: y > 0 exactly where x > 0.
#include "backends/cpu/ref.h"

namespace cnnb::ref {

// y = max(x, 0)
template <class T>
void relu_fwd(const ExecCtx&, const ReluFwdArgsT<T>& a) {
  for (int64_t i = 0; i < a.n; ++i) a.y[i] = a.x[i] > T(0) ? a.x[i] : T(0);
}

// dx = dy where y > 0, else 0 (the subgradient at 0 is taken as 0, like PyTorch)
template <class T>
void relu_bwd(const ExecCtx&, const ReluBwdArgsT<T>& a) {
  for (int64_t i = 0; i < a.n; ++i) a.dx[i] = a.y[i] > T(0) ? a.dy[i] : T(0);
}

template void relu_fwd<float>(const ExecCtx&, const ReluFwdArgsT<float>&);
template void relu_fwd<double>(const ExecCtx&, const ReluFwdArgsT<double>&);
template void relu_bwd<float>(const ExecCtx&, const ReluBwdArgsT<float>&);
template void relu_bwd<double>(const ExecCtx&, const ReluBwdArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void relu_fwd_ref(const ExecCtx& c, const ReluFwdArgs& a) { ref::relu_fwd<float>(c, a); }
void relu_bwd_ref(const ExecCtx& c, const ReluBwdArgs& a) { ref::relu_bwd<float>(c, a); }

}  // namespace cnnb::cpu
