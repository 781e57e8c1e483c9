#pragma once
// Backends are recipes over the kernel registry: for every op, the variants to try in order.
// What actually ran is recorded per op, and any fallback is written into the run record.
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "backends/ops.h"
#include "backends/recipe.h"
#include "backends/registry.h"

namespace cnnb {

// One function per op, chosen for a replica. T = double only for the reference (gradient checks).
template <class T>
struct OpSet {
#define OP(name, Args) typename OpTraits<Op::name, T>::Fn name = nullptr;
#include "backends/ops.def"
#undef OP
  std::array<std::string, kOpCount> chosen;  // full variant name per op, e.g. conv_fwd/cpu/im2col_gemm
  std::vector<std::string> fallbacks;        // "relu_fwd: cpu/omp not in this build, using cpu/ref"
  std::string_view recipe;                   // the backend it was resolved for, so a strategy can ask its facts
};

struct BackendInfo {
  std::string_view name;         // cpu-ref, cpu-gemm, ...
  DeviceKind device;
  std::string_view description;
  bool in_build;                 // every op has a variant in this build
  bool available;                // in the build, and a GPU backend's module loads (core/gpu_module.h)
  std::string unavailable_reason;  // why not: what the build lacks, or why the GPU module cannot be loaded
};

// Every backend; asking about a GPU backend loads the GPU module.
std::vector<BackendInfo> backend_infos();
// One backend: loads the GPU module only for a GPU backend. Throws InputError for an unknown name.
BackendInfo backend_info(std::string_view backend);
std::vector<std::string> backend_names();

// Resolves a backend recipe, with per-op overrides (`--kernel conv_fwd=smem_tiled` or `conv_fwd=cuda/smem_tiled`).
// Throws InputError for an unknown backend (listing the valid ones), a backend this build lacks, or a bad override.
OpSet<float> resolve_backend(std::string_view backend, const std::map<std::string, std::string>& overrides = {});
DeviceKind backend_device(std::string_view backend);

// The cpu-ref loops instantiated in double, for gradient checks of whole models.
OpSet<double> reference_opset_double();

}  // namespace cnnb
