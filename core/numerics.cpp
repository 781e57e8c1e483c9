#include "core/numerics.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

namespace {

// The watchdog runs this over every gradient every step, so it must cost next to nothing: a value is
// inf or nan exactly when its exponent bits are all ones. Each block is tested without an early exit,
// which the compiler vectorises; only a block that holds such a value is searched element by element.
template <class T, class Bits>
std::optional<NonFinite> first_non_finite(std::span<const T> v) {
  static_assert(sizeof(T) == sizeof(Bits));
  constexpr Bits kExponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  constexpr size_t kBlock = 4096;
  for (size_t b = 0; b < v.size(); b += kBlock) {
    const size_t e = std::min(v.size(), b + kBlock);
    Bits any = 0;
    for (size_t i = b; i < e; ++i) any |= Bits((std::bit_cast<Bits>(v[i]) & kExponent) == kExponent);
    if (any == 0) continue;
    for (size_t i = b; i < e; ++i)
      if (!std::isfinite(v[i])) return NonFinite{int64_t(i), double(v[i])};
  }
  return std::nullopt;
}

}  // namespace

std::optional<NonFinite> find_non_finite(std::span<const float> v) { return first_non_finite<float, uint32_t>(v); }
std::optional<NonFinite> find_non_finite(std::span<const double> v) { return first_non_finite<double, uint64_t>(v); }

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
