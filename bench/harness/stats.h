#pragma once
#include <vector>

namespace cnnb {

// Percentile by linear interpolation between closest ranks (numpy's default); q in [0, 100].
double percentile(std::vector<double> v, double q);
inline double median(std::vector<double> v) { return percentile(std::move(v), 50); }
// Sample standard deviation over the mean, in percent; 0 for fewer than two values or a mean <= 0.
double cv_percent(const std::vector<double>& v);

}  // namespace cnnb
