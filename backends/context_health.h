#pragma once
// Whether this process's CUDA contexts can still be used. Some errors (an illegal address, a device-side
// assert, ...) are "sticky": every later CUDA call on that context returns the same error, and only a new
// process can use the GPU again. Commands that run many things in one process (verify, sweep,
// cnnbench-micro) ask after a failure, so that what follows is reported as not run instead of failing
// under other names. Compiled in every build: without CUDA every context is healthy.
#include <array>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace cnnb {

// The values of driver_types.h (CUDA 13.0) whose documentation says the context cannot be used again:
// cudaErrorContained 226, cudaErrorIllegalAddress 700, cudaErrorLaunchTimeout 702, cudaErrorAssert 710,
// cudaErrorHardwareStackError 714, cudaErrorIllegalInstruction 715, cudaErrorMisalignedAddress 716,
// cudaErrorInvalidAddressSpace 717, cudaErrorInvalidPc 718, cudaErrorLaunchFailure 719,
// cudaErrorTensorMemoryLeak 721, cudaErrorMpsClientTerminated 810, cudaErrorExternalDevice 911.
// Plain numbers, checked against the header in backends/cuda/context_probe.cpp.
inline constexpr std::array<int, 13> kStickyCudaErrors = {226, 700, 702, 710, 714, 715, 716,
                                                          717, 718, 719, 721, 810, 911};

// True for the cudaError_t values that driver_types.h documents as leaving the process in an
// inconsistent state ("any further CUDA work will return the same error ... the process must be
// terminated and relaunched", or "the device cannot be used again"). The code is an int so that the
// classification is available without the CUDA headers.
bool is_sticky_cuda_error(int code);

struct ContextHealth {
  bool lost = false;
  std::string error;  // when lost: "gpu:0: cudaErrorIllegalAddress (an illegal memory access was encountered)"
};

// Synchronizes each of these CUDA devices and classifies what it returns; the calling thread's current
// device is restored. A non-sticky error met on the way is cleared and does not count. Healthy for an
// empty list (without loading the GPU module) and when no GPU can be used. Never throws.
ContextHealth cuda_context_health(std::span<const int> gpus);

// The probe as a parameter, so that tests can drive the production loops with a made-up loss.
using ContextProbe = std::function<ContextHealth(std::span<const int> gpus)>;

// The first loss seen by a loop over many GPU jobs, and the reason given to every job it no longer runs.
class ContextLossGuard {
 public:
  explicit ContextLossGuard(ContextProbe probe);

  // After job `what` failed on `gpus`: probes the contexts unless a loss is already known. True when
  // the context is lost; the first job found to have lost it is kept as the cause.
  bool lost_after_failure(std::string_view what, std::span<const int> gpus);

  bool lost() const { return lost_; }
  const std::string& cause() const { return cause_; }  // the job after which the loss was found
  const std::string& error() const { return error_; }  // the probe's error
  std::string not_run_reason() const;                   // "not run: CUDA context lost after <cause>"

 private:
  ContextProbe probe_;
  bool lost_ = false;
  std::string cause_, error_;
};

}  // namespace cnnb
