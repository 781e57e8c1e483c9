// Reference Adam, torch.optim.Adam (amsgrad off, weight decay as L2 in the gradient), step t >= 1:
//   g = grad + weight_decay * p
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
#include <cmath>

#include "backends/cpu/ref.h"
#include "core/error.h"

namespace cnnb::ref {

template <class T>
void adam_update(const ExecCtx&, const AdamArgsT<T>& a) {
  const AdamHyper& h = a.h;
  CNNB_CHECK(h.step >= 1, "adam_update: the step count starts at 1, got {}", h.step);
  const double correction1 = 1.0 - std::pow(h.beta1, double(h.step));
  const double correction2 = 1.0 - std::pow(h.beta2, double(h.step));
  for (int64_t i = 0; i < a.n; ++i) {
    const double g = double(a.grad[i]) + h.weight_decay * double(a.param[i]);
    const double m = h.beta1 * double(a.m[i]) + (1.0 - h.beta1) * g;
    const double v = h.beta2 * double(a.v[i]) + (1.0 - h.beta2) * g * g;
    a.m[i] = T(m);
    a.v[i] = T(v);
    a.param[i] = T(double(a.param[i]) - h.lr * (m / correction1) / (std::sqrt(v / correction2) + h.eps));
  }
}

template void adam_update<float>(const ExecCtx&, const AdamArgsT<float>&);
template void adam_update<double>(const ExecCtx&, const AdamArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void adam_update_ref(const ExecCtx& c, const AdamArgs& a) { ref::adam_update<float>(c, a); }

}  // namespace cnnb::cpu
