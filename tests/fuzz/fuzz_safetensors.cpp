// safetensors reader on arbitrary bytes, then the weights of a small model taken from what it decoded
// (names, shapes and dtypes matched against the plan).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/model_spec.h"
#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const cnnb::StFile f = cnnb::decode_safetensors(bytes, "fuzz.safetensors");
    uint64_t covered = 0;
    for (const auto& t : f.tensors) {
      covered += t.bytes.size();
      if (t.dtype == "F32" && t.to_f32().size() != uint64_t(t.elements())) __builtin_trap();
    }
    if (covered > size) __builtin_trap();
    const cnnb::ModelPlan plan = cnnb::plan_model(cnnb::parse_model("conv3x3x2,relu,fc3"), cnnb::Shape{1, 4, 4}, 3);
    if (cnnb::weights_from(f, plan, "fuzz.safetensors").size() != uint64_t(plan.param_count)) __builtin_trap();
  } catch (const cnnb::InputError&) {
  }
  return 0;
}
