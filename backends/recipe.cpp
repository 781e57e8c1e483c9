#include "backends/recipe.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace cnnb {

const std::vector<BackendRecipe>& backend_recipes() {
  static const std::vector<BackendRecipe> r = {
      {.name = "cpu-ref",
       .device = DeviceKind::cpu,
       .description = "sequential reference loops, one thread, double accumulation (the baseline)",
       .prefs = {{"*", {"cpu/ref"}}},
       .baseline = true,
       .single_threaded = true,
       .colour = 0x7f7f7f},
      {.name = "cpu-gemm",
       .device = DeviceKind::cpu,
       .description = "im2col/col2im + OpenBLAS SGEMM, other ops multithreaded with OpenMP",
       .prefs = {{"conv_fwd", {"cpu/im2col_gemm"}}, {"conv_bwd_data", {"cpu/im2col_gemm"}},
                 {"conv_bwd_filter", {"cpu/im2col_gemm"}}, {"dense_fwd", {"cpu/gemm"}}, {"dense_bwd", {"cpu/gemm"}},
                 {"*", {"cpu/omp"}}},
       .colour = 0x1f77b4},
      {.name = "cpu-onednn",
       .device = DeviceKind::cpu,
       .description = "oneDNN primitives (the CPU counterpart of cuDNN), reorders included",
       // oneDNN has no optimizer primitives: the updates are the OpenMP loops by design, not a fallback.
       .prefs = {{"sgd_update", {"cpu/omp"}}, {"adam_update", {"cpu/omp"}}, {"*", {"onednn/dnnl", "cpu/omp"}}},
       .missing_reason = "built without oneDNN",
       .colour = 0x17becf},
      {.name = "cuda-naive",
       .device = DeviceKind::cuda,
       .description = "one CUDA thread per output element for every op",
       .prefs = {{"*", {"cuda/naive"}}},
       .missing_reason = "built without CUDA",
       .host_twin = "cpu-gemm",
       .colour = 0xff7f0e},
      {.name = "cuda-gemm",
       .device = DeviceKind::cuda,
       .description = "im2col/col2im CUDA kernels + cuBLAS SGEMM, naive CUDA kernels for the rest",
       .prefs = {{"conv_fwd", {"cublas/im2col_gemm"}}, {"conv_bwd_data", {"cublas/im2col_gemm"}},
                 {"conv_bwd_filter", {"cublas/im2col_gemm"}}, {"dense_fwd", {"cublas/gemm"}},
                 {"dense_bwd", {"cublas/gemm"}}, {"*", {"cuda/naive"}}},
       .missing_reason = "built without CUDA (no CUDA compiler or cuBLAS at configure time)",
       .host_twin = "cpu-gemm",
       .colour = 0xd62728},
      {.name = "cudnn",
       .device = DeviceKind::cuda,
       .description = "cuDNN for convolution, pooling, LRN and softmax; CUDA kernels for the rest",
       .prefs = {{"conv_fwd", {"cudnn/cudnn"}}, {"conv_bwd_data", {"cudnn/cudnn"}}, {"conv_bwd_filter", {"cudnn/cudnn"}},
                 {"pool_fwd", {"cudnn/cudnn"}}, {"pool_bwd", {"cudnn/cudnn"}}, {"lrn_fwd", {"cudnn/cudnn"}},
                 {"lrn_bwd", {"cudnn/cudnn"}}, {"softmax_xent", {"cudnn/cudnn", "cuda/naive"}},
                 {"*", {"cuda/naive"}}},
       .missing_reason = "built without cuDNN (CUDA without cuDNN found at configure time)",
       .host_twin = "cpu-gemm",
       .colour = 0x2ca02c},
  };
  return r;
}

const BackendRecipe* find_backend_recipe(std::string_view name) {
  for (const auto& r : backend_recipes())
    if (r.name == name) return &r;
  return nullptr;
}

const BackendRecipe& backend_recipe(std::string_view name) {
  if (const BackendRecipe* r = find_backend_recipe(name)) return *r;
  std::vector<std::string_view> names;
  for (const auto& r : backend_recipes()) names.push_back(r.name);
  fail_input("unknown backend '{}'; expected one of: {}", name, fmt::join(names, ", "));
}

std::string_view baseline_backend() {
  for (const auto& r : backend_recipes())
    if (r.baseline) return r.name;
  CNNB_ASSERT(false);
}

}  // namespace cnnb
