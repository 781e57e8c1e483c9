#pragma once
// The backend recipes as data: which variants each one prefers, and the facts about it that the harness,
// the strategies and the reports act on. Kept free of the registry and of CUDA so that reports/ can read
// the facts without linking a kernel.
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "core/exec_ctx.h"

namespace cnnb {

struct BackendRecipe {
  std::string_view name;  // cpu-ref, cpu-gemm, ...
  DeviceKind device = DeviceKind::cpu;
  std::string_view description;
  // Per op, "family/variant" in order of preference, the first one present wins; "*" = every op not named.
  // A CPU recipe falls back to cpu/ref; a GPU recipe never falls back to the CPU.
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> prefs;
  std::string_view missing_reason{};  // why a build may lack it
  // The one every speedup divides by; a sweep runs it for every model, dataset and batch.
  bool baseline = false;
  // Its kernels are sequential by design, so --threads does not apply and labels name no thread count.
  bool single_threaded = false;
  // The CPU recipe whose kernels a tower's host runs (the update on the host's master copy); "" for CPU
  // recipes, whose towers use their own kernels so that tower matches single bit for bit.
  std::string_view host_twin{};
  uint32_t colour = 0;  // 0xRRGGBB, the same in every chart
};

// Table order is display order: reports list backends in it.
const std::vector<BackendRecipe>& backend_recipes();
// nullptr for a name this build does not know (a record from an older or newer cnnbench).
const BackendRecipe* find_backend_recipe(std::string_view name);
// InputError for an unknown name, listing the known ones.
const BackendRecipe& backend_recipe(std::string_view name);
std::string_view baseline_backend();

}  // namespace cnnb
