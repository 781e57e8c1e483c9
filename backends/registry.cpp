#include "backends/registry.h"

#include <fmt/format.h>

#include "backends/gpu_backends.h"
#include "core/error.h"

// Declarations come from the same lines that register: one place lists every variant. The GPU lines
// name functions of the GPU module (backends/cuda/module.cpp), which this library never links: their
// entries carry no function until kernel_fn asks the module for it.
#define CNNB_DECLARE(op, family, variant, fn) CNNB_KERNEL_DECLARATION(op, family, fn)
#define CNNB_KERNEL_CPU(op, family, variant, fn) CNNB_DECLARE(op, family, variant, fn)
#define CNNB_KERNEL_ONEDNN(op, family, variant, fn) CNNB_DECLARE_IF_ONEDNN(op, family, variant, fn)
#define CNNB_KERNEL_CUDA(op, family, variant, fn)
#define CNNB_KERNEL_CUDNN(op, family, variant, fn)
#if CNNB_HAVE_ONEDNN
#define CNNB_DECLARE_IF_ONEDNN CNNB_DECLARE
#else
#define CNNB_DECLARE_IF_ONEDNN(...)
#endif
#define KERNEL(op, family, variant, fn, DEV) CNNB_KERNEL_##DEV(op, family, variant, fn)
#include "backends/kernels.def"
#undef KERNEL
#undef CNNB_DECLARE
#undef CNNB_KERNEL_CUDA
#undef CNNB_KERNEL_CUDNN

namespace cnnb {

namespace {

// The CPU and oneDNN lines, linked here.
#define CNNB_DECLARE(op, family, variant, fn) \
  KernelInfo{Op::op, #family, #variant, DeviceKind::cpu, CNNB_KERNEL_ADDRESS(op, family, fn)},

#define CNNB_NAMED(op, family, variant, fn) KernelInfo{Op::op, #family, #variant, DeviceKind::cuda, nullptr},
#if CNNB_HAVE_CUDA
#define CNNB_KERNEL_CUDA CNNB_NAMED
#else
#define CNNB_KERNEL_CUDA(...)
#endif
#if CNNB_HAVE_CUDNN
#define CNNB_KERNEL_CUDNN CNNB_NAMED
#else
#define CNNB_KERNEL_CUDNN(...)
#endif

const KernelInfo kKernels[] = {
#define KERNEL(op, family, variant, fn, DEV) CNNB_KERNEL_##DEV(op, family, variant, fn)
#include "backends/kernels.def"
#undef KERNEL
};

}  // namespace

AnyKernelFn KernelInfo::resolve() const { return fn ? fn : gpu_kernel_fn(op, family, variant); }

std::string KernelInfo::full_name() const { return fmt::format("{}/{}/{}", op_name(op), family, variant); }

std::span<const KernelInfo> all_kernels() { return kKernels; }

const KernelInfo* find_kernel(Op op, std::string_view family, std::string_view variant) {
  for (const auto& k : kKernels)
    if (k.op == op && k.family == family && k.variant == variant) return &k;
  return nullptr;
}

const char* op_name(Op op) {
  switch (op) {
#define OP(name, Args) \
  case Op::name:       \
    return #name;
#include "backends/ops.def"
#undef OP
  }
  CNNB_ASSERT(false);
}

}  // namespace cnnb
