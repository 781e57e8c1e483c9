#pragma once
// The (kernel variant, op case) pairs that the CPU and the GPU test binaries check against cpu/ref, made
// from kernels.def and backends/op_cases.h: a new variant or case is tested without editing a test.
#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "backends/op_cases.h"
#include "backends/registry.h"
#include "core/device.h"

namespace cnnb::test {

struct KernelCase {
  const KernelInfo* kernel;
  OpCase c;
};

// Every variant that runs on `device`, cpu/ref itself excepted, on every test case of its op.
inline std::vector<KernelCase> kernel_cases(DeviceKind device) {
  std::vector<KernelCase> out;
  for (const KernelInfo& k : all_kernels()) {
    if (k.device != device || (k.family == "cpu" && k.variant == "ref")) continue;
    for (OpCase& c : op_cases(k.op, CaseSet::test)) out.push_back({&k, std::move(c)});
  }
  return out;
}

// GoogleTest would otherwise print the parameter as a hex dump in every test name ctest shows.
inline void PrintTo(const KernelCase& kc, std::ostream* os) { *os << kc.kernel->full_name() << " on " << kc.c.name; }

// conv_fwd/cpu/im2col_gemm + odd_3x3_pad1 -> conv_fwd_cpu_im2col_gemm__odd_3x3_pad1 (GoogleTest allows [A-Za-z0-9_]).
inline std::string kernel_case_name(const ::testing::TestParamInfo<KernelCase>& info) {
  std::string s = info.param.kernel->full_name() + "__" + info.param.c.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

}  // namespace cnnb::test
