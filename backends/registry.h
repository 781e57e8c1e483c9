#pragma once
// The kernel registry, built from kernels.def: every variant of every op in this build.
#include <span>
#include <string>
#include <string_view>

#include "backends/ops.h"

namespace cnnb {

using AnyKernelFn = void (*)();

struct KernelInfo {
  Op op;
  std::string_view family;   // cpu, onednn, cuda, cublas, cudnn
  std::string_view variant;  // ref, im2col_gemm, naive, smem_tiled, ...
  DeviceKind device;
  AnyKernelFn fn;            // the real type is OpTraits<op>::Fn; use kernel_fn<op>(). Null for a GPU
                             // variant until the GPU module is loaded: resolve() loads it.

  // The function, from the GPU module for a GPU variant: throws InputError (exit 2) naming why when the
  // module cannot be loaded.
  AnyKernelFn resolve() const;

  std::string full_name() const;  // op/family/variant, e.g. conv_fwd/cuda/smem_tiled
};

std::span<const KernelInfo> all_kernels();

// nullptr when that variant is not in this build.
const KernelInfo* find_kernel(Op op, std::string_view family, std::string_view variant);

// For the files that expand kernels.def into a table (registry.cpp, and backends/cuda/module.cpp for the
// GPU lines): a line's function declared, and its address, whose signature static_cast checks against the
// op's Args at compile time.
#define CNNB_KERNEL_DECLARATION(op, family, fn) \
  namespace cnnb::family { void fn(const ::cnnb::ExecCtx&, const ::cnnb::OpTraits<::cnnb::Op::op>::ArgsT&); }
#define CNNB_KERNEL_ADDRESS(op, family, fn) \
  reinterpret_cast<::cnnb::AnyKernelFn>(static_cast<::cnnb::OpTraits<::cnnb::Op::op>::Fn>(&::cnnb::family::fn))

template <Op op>
typename OpTraits<op>::Fn kernel_fn(const KernelInfo& k) {
  return reinterpret_cast<typename OpTraits<op>::Fn>(k.resolve());
}

}  // namespace cnnb
