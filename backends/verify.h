#pragma once
// Checks a kernel variant against cpu/ref on the shared op cases (backends/op_cases.h): the loop behind
// tests/test_kernels.cpp and `cnnbench verify` (the way to validate a GPU machine).
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/context_health.h"
#include "backends/op_cases.h"
#include "backends/registry.h"
#include "core/device.h"

namespace cnnb {

// What a variant must meet on one case.
//   exact: integer inputs whose every partial sum is an integer below 2^24, so any summation order gives
//          the reference's value bit for bit: the maximum absolute error must be 0.
//   else:  nmse = mse(variant, ref) / mse(ref, 0) <= nmse, the worst over the output tensors.
struct Tolerance {
  bool exact = false;
  double nmse = 0.0;
  std::string str() const;  // "exact" or "nmse <= 1e-10"
};
Tolerance tolerance_for(const OpCase& c, std::string_view family);

struct VerifyResult {
  Op op{};
  std::string kernel;     // full name, e.g. conv_fwd/cpu/im2col_gemm
  std::string case_name;  // e.g. tfcifar_conv2
  std::string geometry;
  double max_abs_err = 0.0;  // over every output tensor
  double nmse = 0.0;         // the worst output tensor's
  std::string worst;         // that tensor's name
  Tolerance tol;
  bool pass = false;
  bool skipped = false;
  bool not_run = false;  // skipped because an earlier variant lost the CUDA context (skipped is set too)
  std::string reason;    // why it failed or was skipped; empty on a pass
};

// Runs k on dev and cpu/ref on a one-thread CPU device, both on the case's inputs, and compares every
// output. An exception from the variant is a failure with its message as the reason.
VerifyResult verify_kernel(const KernelInfo& k, const OpCase& c, Device& dev);

struct VerifyOptions {
  std::string filter;                 // only variants whose full name contains this ("" = all)
  std::vector<std::string> variants;  // only these full names, e.g. a backend's recipe (empty = all)
  int cpu_threads = 0;                // threads of the CPU device (0 = all cores)
  // What runs and where; tests replace them. Empty kernels: every registered variant. Empty make_gpu:
  // GPU 0 when cuda_device_count() > 0, otherwise none.
  std::span<const KernelInfo> kernels;
  std::function<std::unique_ptr<Device>()> make_gpu;
  ContextProbe context_health = cuda_context_health;
};

// Every selected variant except cpu/ref, on every test case of its op. CPU variants run on a CPU device;
// CUDA variants on GPU 0, or are skipped with reason "no CUDA device" when there is none. After a CUDA
// variant fails, the context is probed: when it is lost, that row's reason says so and every later
// CUDA row is skipped as not run ("not run: CUDA context lost after <variant>/<case>"); CPU rows go on.
std::vector<VerifyResult> verify_all(const VerifyOptions& opt);
std::vector<VerifyResult> verify_all(std::string_view filter, int cpu_threads = 0);

}  // namespace cnnb
