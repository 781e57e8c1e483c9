// Sweep files (TOML): parse and validate, then expand the grid on a fixed made-up host when it is small
// enough to expand within the time limit of one input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/harness/sweep.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const cnnb::SweepSpec spec = cnnb::parse_sweep_toml_string(text, "fuzz.toml");
    const uint64_t grid = spec.models.size() * spec.datasets.size() * spec.backends.size() * spec.strategies.size() *
                          spec.devices.size() * spec.batches.size() * spec.pipelines.size() * spec.scaling.size() *
                          spec.kernels.size();
    if (grid > 4096) return 0;
    cnnb::SweepHost host;
    host.gpus = 0;
    host.cores = 4;
    host.prefetch = true;
    host.unavailable_backends = {{"cudnn", "not in this build"}};
    const cnnb::SweepPlan plan = cnnb::expand_sweep(spec, host);
    for (const auto& run : plan.runs)
      if (run.hash.size() != 16) __builtin_trap();
  } catch (const cnnb::InputError&) {
  }
  return 0;
}
