#pragma once
// Finding the first NaN or Inf in a buffer and saying where it is in model terms: the numerical
// watchdog's vocabulary (which parameter of which layer, which layer's output, what value).
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/model_spec.h"

namespace cnnb {

struct NonFinite {
  int64_t index = 0;  // into the scanned buffer
  double value = 0;   // NaN, +Inf or -Inf
};

// One pass, no allocation. The first non-finite element, or nullopt when every element is finite.
std::optional<NonFinite> find_non_finite(std::span<const float> v);
std::optional<NonFinite> find_non_finite(std::span<const double> v);

// "nan", "inf", "-inf" for non-finite values; a plain number otherwise ("1.5e+30").
std::string value_name(double v);

// Where flat element `index` of the parameter (or gradient) buffer lies: "conv1.weight[5] (layer conv1)".
// Throws Error for an index outside the plan's parameters (a bug, not input).
std::string describe_param_element(const ModelPlan& plan, int64_t index);

// Where element `index` of a layer's output of a batch lies: "fc1 output[image 3, element 17]".
std::string describe_output_element(const ModelPlan& plan, size_t layer, int64_t index);

}  // namespace cnnb
