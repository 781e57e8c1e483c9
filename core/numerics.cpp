#include "core/numerics.h"

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

namespace {

template <class T>
std::optional<NonFinite> first_non_finite(std::span<const T> v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return NonFinite{int64_t(i), double(v[i])};
  return std::nullopt;
}

}  // namespace

std::optional<NonFinite> find_non_finite(std::span<const float> v) { return first_non_finite(v); }
std::optional<NonFinite> find_non_finite(std::span<const double> v) { return first_non_finite(v); }

std::string value_name(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:g}", v);
}

std::string describe_param_element(const ModelPlan& plan, int64_t index) {
  for (size_t p = 0; p < plan.params.size(); ++p) {
    const ParamTensor& t = plan.params[p];
    if (index < t.offset || index >= t.offset + t.count) continue;
    for (const LayerPlan& l : plan.layers)
      if (l.weight == int(p) || l.bias == int(p))
        return fmt::format("{}[{}] (layer {})", t.name, index - t.offset, l.name);
    return fmt::format("{}[{}]", t.name, index - t.offset);
  }
  fail("parameter element {} is outside the model's {} parameters", index, plan.param_count);
}

std::string describe_output_element(const ModelPlan& plan, size_t layer, int64_t index) {
  CNNB_CHECK(layer < plan.layers.size(), "layer {} out of range (the model has {})", layer, plan.layers.size());
  const LayerPlan& l = plan.layers[layer];
  const int64_t per_image = l.out.size();
  return fmt::format("{} output[image {}, element {}]", l.name, index / per_image, index % per_image);
}

}  // namespace cnnb
