#pragma once
// Finite-difference gradient checking: the central-difference gradient of any scalar function of a
// flat parameter vector, and the worst relative error against an analytic gradient. Small enough to
// use for a single op or a whole model (flatten its parameters, run forward, return the loss).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb::test {

using ScalarFn = std::function<double(const std::vector<double>&)>;

// g_i = (f(x + h e_i) - f(x - h e_i)) / (2h). For f linear in x_i the difference is exact whatever h,
// so a larger h only lowers round-off there; for curved f the truncation error grows like h^2.
inline std::vector<double> numeric_gradient(const ScalarFn& f, std::vector<double> x, double h = 1e-6) {
  std::vector<double> grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i];
    x[i] = xi + h;
    const double up = f(x);
    x[i] = xi - h;
    const double down = f(x);
    x[i] = xi;
    grad[i] = (up - down) / (2.0 * h);
  }
  return grad;
}

struct GradComparison {
  double worst_rel_error = 0.0;  // max_i |a_i - n_i| / max(1e-8, |a_i| + |n_i|)
  size_t worst_index = 0;
  double analytic = 0.0, numeric = 0.0;  // the two values at worst_index

  std::string str() const {
    return fmt::format("worst relative error {:.3g} at index {}: analytic {:.17g}, numeric {:.17g}", worst_rel_error,
                       worst_index, analytic, numeric);
  }
};

// The floor of 1e-8 keeps entries where both gradients are (nearly) zero from dominating; a NaN on
// either side counts as an infinite error.
inline GradComparison compare_gradients(std::span<const double> analytic, std::span<const double> numeric) {
  CNNB_CHECK(analytic.size() == numeric.size(), "compare_gradients: {} analytic values but {} numeric ones",
             analytic.size(), numeric.size());
  GradComparison worst;
  for (size_t i = 0; i < analytic.size(); ++i) {
    const double a = analytic[i], n = numeric[i];
    double rel = std::abs(a - n) / std::max(1e-8, std::abs(a) + std::abs(n));
    if (std::isnan(rel)) rel = std::numeric_limits<double>::infinity();
    if (i == 0 || rel > worst.worst_rel_error) worst = {rel, i, a, n};
  }
  return worst;
}

}  // namespace cnnb::test
