#include "backends/gpu_backends.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/gpu_module.h"

namespace cnnb {

namespace {

const GpuBackendTable& table() { return gpu_module_table<GpuBackendTable>(kGpuBackendTable); }

}  // namespace

AnyKernelFn gpu_kernel_fn(Op op, std::string_view family, std::string_view variant) {
  const AnyKernelFn fn = table().kernel(op, family, variant);
  if (fn == nullptr)
    fail("kernels.def lists {}/{}/{}, but the GPU module has no such variant: it is from another build; rebuild both",
         op_name(op), family, variant);
  return fn;
}

std::map<std::string, std::string> conv_algorithms(const ExecCtx& ctx) {
  if (ctx.kind != DeviceKind::cuda) return {};
  return table().conv_algorithms(ctx);
}

ContextHealth cuda_context_health(std::span<const int> gpus) {
  if (gpus.empty() || !gpu_module_unavailable().empty()) return {};
  return table().context_health(gpus);
}

namespace cuda {

CudaEnv cuda_environment() {
  if (const std::string& why = gpu_module_unavailable(); !why.empty()) {
    CudaEnv env;
    env.built_with_cuda = gpu_module_in_build();
    env.queried = env.built_with_cuda;  // asked, by loading the module, which failed
    env.error = env.built_with_cuda ? why : no_gpu_reason(env);
    return env;
  }
  return table().environment();
}

}  // namespace cuda

nlohmann::json cuda_environment_json() {
  if (gpu_module_in_build() && !gpu_module_tried()) {
    // A CPU run leaves the GPU libraries unloaded (that is what keeps it lean): the record says so
    // instead of loading them to ask.
    cuda::CudaEnv env;
    env.built_with_cuda = true;
    env.error = "this process ran no GPU code, so it did not load the GPU module";
    return env;
  }
  return cuda::cuda_environment();
}

}  // namespace cnnb
