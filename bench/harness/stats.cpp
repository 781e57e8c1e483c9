#include "bench/harness/stats.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace cnnb {

double percentile(std::vector<double> v, double q) {
  CNNB_CHECK(!v.empty(), "percentile of an empty sample");
  CNNB_CHECK(q >= 0 && q <= 100, "percentile {} outside [0, 100]", q);
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

}  // namespace cnnb
