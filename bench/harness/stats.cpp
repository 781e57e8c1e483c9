#include "bench/harness/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

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

double cv_percent(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return mean > 0 ? 100.0 * std::sqrt(ss / double(v.size() - 1)) / mean : 0;
}

}  // namespace cnnb
