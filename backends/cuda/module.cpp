// The GPU module's entry points (core/gpu_module.h): the tables through which the program reaches the
// module's devices, kernels and queries. Each is a plain C symbol, found with dlsym.
#include <algorithm>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "backends/cuda/context_probe.h"
#include "backends/cuda/device_query.h"
#include "backends/gpu_backends.h"
#include "backends/registry.h"
#include "core/device.h"

#if CNNB_HAVE_CUDNN
#include "backends/cudnn/algorithms.h"
#endif

// The GPU lines of kernels.def, with their functions: the same lines that name them in the registry.
#define CNNB_DECLARE(op, family, variant, fn) CNNB_KERNEL_DECLARATION(op, family, fn)
#define CNNB_KERNEL_CPU(...)
#define CNNB_KERNEL_ONEDNN(...)
#define CNNB_KERNEL_CUDA CNNB_DECLARE
#if CNNB_HAVE_CUDNN
#define CNNB_KERNEL_CUDNN CNNB_DECLARE
#else
#define CNNB_KERNEL_CUDNN(...)
#endif
#define KERNEL(op, family, variant, fn, DEV) CNNB_KERNEL_##DEV(op, family, variant, fn)
#include "backends/kernels.def"
#undef KERNEL
#undef CNNB_DECLARE

namespace cnnb::cuda {

namespace {

#define CNNB_DECLARE(op, family, variant, fn) \
  KernelInfo{Op::op, #family, #variant, DeviceKind::cuda, CNNB_KERNEL_ADDRESS(op, family, fn)},
const KernelInfo kKernels[] = {
#define KERNEL(op, family, variant, fn, DEV) CNNB_KERNEL_##DEV(op, family, variant, fn)
#include "backends/kernels.def"
#undef KERNEL
};
#undef CNNB_DECLARE

AnyKernelFn find_kernel(Op op, std::string_view family, std::string_view variant) {
  const auto* k = std::find_if(std::begin(kKernels), std::end(kKernels), [&](const KernelInfo& m) {
    return m.op == op && m.family == family && m.variant == variant;
  });
  return k == std::end(kKernels) ? nullptr : k->fn;
}

std::map<std::string, std::string> conv_algorithms(const ExecCtx& ctx) {
#if CNNB_HAVE_CUDNN
  return cudnn::chosen_algorithms(ctx);
#else
  (void)ctx;
  return {};
#endif
}

}  // namespace

}  // namespace cnnb::cuda

extern "C" const char* cnnb_gpu_module_build() { return CNNB_GIT_COMMIT; }

extern "C" const cnnb::GpuDeviceTable cnnb_gpu_devices{&cnnb::cuda::make_device, &cnnb::cuda::device_count};

extern "C" const cnnb::GpuBackendTable cnnb_gpu_backends{&cnnb::cuda::find_kernel, &cnnb::cuda::query_environment,
                                                         &cnnb::cuda::probe_context_health,
                                                         &cnnb::cuda::conv_algorithms};
