#include <set>
#include <utility>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "backends/cuda_architectures.h"
#include "backends/cuda_environment.h"
#include "backends/registry.h"
#include "bench/commands.h"
#include "core/gpu_module.h"
#include "core/model_spec.h"
#include "datasets/dataset.h"
#include "strategies/comm/communicator.h"
#include "strategies/strategy.h"

namespace cnnb::cli {

Command add_list(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("list", "List the models, datasets, backends and kernel variants in this build");
  return {sub, [] {
    fmt::print("models:\n");
    for (const auto& p : model_presets()) fmt::print("  {:<10} {}\n  {:<10} {}\n", p.name, p.description, "", p.spec);
    fmt::print("  (or a spec string: conv<R>x<S>x<K>[s<stride>][p<pad>], relu, maxpool<W>[s<stride>][p<pad>],\n"
               "   lrn<N>[a<alpha>][b<beta>][k<k>], fc<units>, comma-separated)\n");
    fmt::print("\ndatasets:\n");
    for (const auto& d : dataset_spec_forms()) fmt::print("  {}\n", d);
    fmt::print("\nbackends:\n");
    for (const auto& b : backend_infos())
      fmt::print("  {:<11} {:<4} {:<13} {}\n", b.name, device_kind_name(b.device),
                 b.available ? "available" : b.in_build ? "not available" : "not in build",
                 b.available ? std::string(b.description) : b.unavailable_reason);
    fmt::print("\nkernel variants (op/family/variant):\n");
    for (const auto& k : all_kernels()) fmt::print("  {:<36} {}\n", k.full_name(), device_kind_name(k.device));
    fmt::print("\nstrategies:\n");
    for (const auto& st : strategy_infos()) fmt::print("  {:<11} {}\n", st.name, st.description);
    fmt::print("\ncommunicators:\n");
    for (const auto& c : communicator_infos()) {
      // NCCL is in the GPU module: in the build, but unusable where the module's libraries are missing.
      const std::string& gpu_missing = c.kind == CommKind::nccl && c.available ? gpu_module_unavailable() : "";
      fmt::print("  {:<11} {:<13} {}\n", c.name,
                 !c.available ? "not in build" : gpu_missing.empty() ? "available" : "not available",
                 !c.available ? fmt::format("needs {}", c.requirement)
                              : gpu_missing.empty() ? std::string(c.description) : gpu_missing);
    }
    // scripts/demo reads the "CUDA devices: N" line.
    const cuda::CudaEnv env = cuda::cuda_environment();
    fmt::print("\nCUDA:\n");
    for (const auto& line : cuda::environment_lines(nlohmann::json(env))) fmt::print("  {}\n", line);
    const auto built = cuda::parse_architectures(cuda::built_architectures());
    std::set<std::pair<int, int>> warned;  // one line per compute capability
    for (const auto& g : env.gpus)
      if (const std::string w = cuda::architecture_warning(built, cuda::built_architectures(), g.cc_major, g.cc_minor);
          !w.empty() && warned.insert({g.cc_major, g.cc_minor}).second)
        fmt::print("  warning: {}\n", w);
    fmt::print("CUDA devices: {}\n", env.gpus.size());
    return 0;
  }};
}

}  // namespace cnnb::cli
