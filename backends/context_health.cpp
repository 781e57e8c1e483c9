#include "backends/context_health.h"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

#if CNNB_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "core/error.h"

namespace cnnb {

namespace {

// The values of driver_types.h (CUDA 13.0) whose documentation says the context cannot be used again:
// cudaErrorContained 226, cudaErrorIllegalAddress 700, cudaErrorLaunchTimeout 702, cudaErrorAssert 710,
// cudaErrorHardwareStackError 714, cudaErrorIllegalInstruction 715, cudaErrorMisalignedAddress 716,
// cudaErrorInvalidAddressSpace 717, cudaErrorInvalidPc 718, cudaErrorLaunchFailure 719,
// cudaErrorTensorMemoryLeak 721, cudaErrorMpsClientTerminated 810, cudaErrorExternalDevice 911.
// Plain numbers: the classification must exist in builds without the CUDA headers.
constexpr std::array<int, 13> kStickyCodes = {226, 700, 702, 710, 714, 715, 716, 717, 718, 719, 721, 810, 911};

#if CNNB_HAVE_CUDA
static_assert(kStickyCodes[0] == cudaErrorContained && kStickyCodes[1] == cudaErrorIllegalAddress &&
              kStickyCodes[2] == cudaErrorLaunchTimeout && kStickyCodes[3] == cudaErrorAssert &&
              kStickyCodes[4] == cudaErrorHardwareStackError && kStickyCodes[5] == cudaErrorIllegalInstruction &&
              kStickyCodes[6] == cudaErrorMisalignedAddress && kStickyCodes[7] == cudaErrorInvalidAddressSpace &&
              kStickyCodes[8] == cudaErrorInvalidPc && kStickyCodes[9] == cudaErrorLaunchFailure &&
              kStickyCodes[10] == cudaErrorTensorMemoryLeak && kStickyCodes[11] == cudaErrorMpsClientTerminated &&
              kStickyCodes[12] == cudaErrorExternalDevice);

std::string describe(int gpu, cudaError_t err) {
  return fmt::format("gpu:{}: {} ({})", gpu, cudaGetErrorName(err), cudaGetErrorString(err));
}

// The first error of making `gpu` current and waiting for all its work.
cudaError_t probe_device(int gpu) {
  cudaError_t err = cudaSetDevice(gpu);
  if (err == cudaSuccess) err = cudaDeviceSynchronize();
  return err;
}
#endif

}  // namespace

bool is_sticky_cuda_error(int code) {
  return std::find(kStickyCodes.begin(), kStickyCodes.end(), code) != kStickyCodes.end();
}

ContextHealth cuda_context_health([[maybe_unused]] std::span<const int> gpus) {
  ContextHealth h;
#if CNNB_HAVE_CUDA
  if (gpus.empty()) return h;
  int previous = -1;
  if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
  for (const int gpu : gpus) {
    const cudaError_t err = probe_device(gpu);
    if (err == cudaSuccess) continue;
    if (is_sticky_cuda_error(int(err))) {
      h.lost = true;
      h.error = describe(gpu, err);
      break;
    }
    // A non-sticky error must not linger in the last-error slot, where a later launch check would blame
    // an innocent kernel for it.
    (void)cudaGetLastError();
  }
  if (previous >= 0) (void)cudaSetDevice(previous);
  if (!h.lost) (void)cudaGetLastError();
#endif
  return h;
}

ContextLossGuard::ContextLossGuard(ContextProbe probe) : probe_(std::move(probe)) {
  CNNB_ASSERT(probe_ != nullptr);
}

bool ContextLossGuard::lost_after_failure(std::string_view what, std::span<const int> gpus) {
  if (lost()) return true;
  const ContextHealth h = probe_(gpus);
  if (!h.lost) return false;
  lost_ = true;
  cause_ = std::string(what);
  error_ = h.error;
  return true;
}

std::string ContextLossGuard::not_run_reason() const { return "not run: CUDA context lost after " + cause_; }

}  // namespace cnnb
