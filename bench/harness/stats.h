#pragma once
#include <vector>

namespace cnnb {

// Percentile by linear interpolation between closest ranks (numpy's default); q in [0, 100].
double percentile(std::vector<double> v, double q);
inline double median(std::vector<double> v) { return percentile(std::move(v), 50); }

}  // namespace cnnb
