// Reference SGD with momentum and L2 weight decay, torch.optim.SGD (dampening 0, no Nesterov):
//   g = grad + weight_decay * p
//   v = momentum * v + g          (torch sets v = g on its first step: the same, since v starts at 0)
//   p = p - lr * v
// With momentum 0 the velocity buffer may be null and the step is p -= lr * g.
#include "backends/cpu/ref.h"
#include "core/error.h"

namespace cnnb::ref {

template <class T>
void sgd_update(const ExecCtx&, const SgdArgsT<T>& a) {
  const SgdHyper& h = a.h;
  CNNB_CHECK(a.velocity || h.momentum == 0.0, "sgd_update: momentum {} needs a velocity buffer, got none",
             h.momentum);
  for (int64_t i = 0; i < a.n; ++i) {
    const double g = double(a.grad[i]) + h.weight_decay * double(a.param[i]);
    double step = g;
    if (a.velocity) {
      step = h.momentum * double(a.velocity[i]) + g;
      a.velocity[i] = T(step);
    }
    a.param[i] = T(double(a.param[i]) - h.lr * step);
  }
}

template void sgd_update<float>(const ExecCtx&, const SgdArgsT<float>&);
template void sgd_update<double>(const ExecCtx&, const SgdArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void sgd_update_ref(const ExecCtx& c, const SgdArgs& a) { ref::sgd_update<float>(c, a); }

}  // namespace cnnb::cpu
