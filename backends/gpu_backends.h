#pragma once
// What the backends read from the GPU module (core/gpu_module.h): its kernels, the CUDA environment,
// the contexts' health and cuDNN's choices. The module fills one GpuBackendTable
// (backends/cuda/module.cpp); cuda_environment(), cuda_context_health() and KernelInfo::resolve()
// forward to it, and none of them loads the module for a question a CPU run asks.
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "backends/context_health.h"
#include "backends/cuda_environment.h"
#include "backends/ops.h"
#include "backends/registry.h"
#include "core/exec_ctx.h"

namespace cnnb {

struct GpuBackendTable {
  // Null when the module has no such variant.
  AnyKernelFn (*kernel)(Op op, std::string_view family, std::string_view variant);
  cuda::CudaEnv (*environment)();
  ContextHealth (*context_health)(std::span<const int> gpus);
  std::map<std::string, std::string> (*conv_algorithms)(const ExecCtx& ctx);
};
inline constexpr const char* kGpuBackendTable = "cnnb_gpu_backends";

// A GPU variant's function; throws InputError when the module cannot be loaded and Error when it lacks
// a variant kernels.def names (a module from another build).
AnyKernelFn gpu_kernel_fn(Op op, std::string_view family, std::string_view variant);

// The cuDNN convolution algorithms a replica has chosen so far, for the run record:
//   "conv n64 c1x28x28 k32 3x3 stride1 pad0" -> "fwd=IMPLICIT_PRECOMP_GEMM bwd_data=ALGO_1 ..."
// Empty for a CPU ExecCtx (without loading the module), before the first cuDNN convolution, and in
// builds without cuDNN.
std::map<std::string, std::string> conv_algorithms(const ExecCtx& ctx);

}  // namespace cnnb
