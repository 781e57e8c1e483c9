// Reference softmax cross-entropy. Per sample i with logits z = logits[i, :] and m = max_j z_j:
//   loss[i]      = logsumexp(z) - z[label]  with  logsumexp(z) = m + log(sum_j exp(z_j - m))
//   dlogits[i,j] = (softmax(z)_j - [j == label]) / n,  softmax(z)_j = exp(z_j - m) / sum_k exp(z_k - m)
// Subtracting m keeps every exp() in (0, 1], so no logit overflows. dlogits is the gradient of the
// batch MEAN of the losses; loss or dlogits may be null when the caller needs only the other one.
#include <algorithm>
#include <cmath>

#include "backends/cpu/ref.h"
#include "core/error.h"

namespace cnnb::ref {

template <class T>
void softmax_xent(const ExecCtx&, const SoftmaxXentArgsT<T>& a) {
  CNNB_CHECK(a.n > 0 && a.classes > 0, "softmax_xent: expected n > 0 and classes > 0, got n={} classes={}", a.n,
             a.classes);
  // All labels are checked before anything is written, so a bad batch leaves no partial output.
  for (int i = 0; i < a.n; ++i)
    if (a.labels[i] < 0 || a.labels[i] >= a.classes)
      fail("softmax_xent: label {} of sample {} is outside [0, {})", a.labels[i], i, a.classes);
  for (int i = 0; i < a.n; ++i) {
    const int label = a.labels[i];
    const T* z = a.logits + int64_t(i) * a.classes;
    double m = double(z[0]);
    for (int j = 1; j < a.classes; ++j) m = std::max(m, double(z[j]));
    double sum_exp = 0.0;
    for (int j = 0; j < a.classes; ++j) sum_exp += std::exp(double(z[j]) - m);
    if (a.loss) a.loss[i] = T(m + std::log(sum_exp) - double(z[label]));
    if (a.dlogits) {
      T* dz = a.dlogits + int64_t(i) * a.classes;
      for (int j = 0; j < a.classes; ++j) {
        const double softmax = std::exp(double(z[j]) - m) / sum_exp;
        dz[j] = T((softmax - (j == label ? 1.0 : 0.0)) / a.n);
      }
    }
  }
}

template void softmax_xent<float>(const ExecCtx&, const SoftmaxXentArgsT<float>&);
template void softmax_xent<double>(const ExecCtx&, const SoftmaxXentArgsT<double>&);

}  // namespace cnnb::ref

namespace cnnb::cpu {

void softmax_xent_ref(const ExecCtx& c, const SoftmaxXentArgs& a) { ref::softmax_xent<float>(c, a); }

}  // namespace cnnb::cpu
