// Model spec strings (--model, sweep and search files): parse, print and parse again (the printed form must
// mean the same model), then plan the model on the two image shapes cnnbench ships datasets for.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/model_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cnnb::ModelSpec spec;
  try {
    spec = cnnb::parse_model(text);
  } catch (const cnnb::InputError&) {
    return 0;
  }
  const std::string printed = spec.str();
  if (cnnb::parse_model(printed).str() != printed) __builtin_trap();
  const int classes = spec.layers.back().kind == cnnb::LayerKind::fc ? spec.layers.back().units : 10;
  for (const cnnb::Shape input : {cnnb::Shape{1, 28, 28}, cnnb::Shape{3, 32, 32}}) {
    try {
      const cnnb::ModelPlan plan = cnnb::plan_model(spec, input, classes);
      if (!(plan.layers.back().out == cnnb::Shape{classes, 1, 1}) || plan.param_count <= 0 || plan.forward_macs() < 0)
        __builtin_trap();
    } catch (const cnnb::InputError&) {
    }
  }
  return 0;
}
