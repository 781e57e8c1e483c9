#include "backends/cuda/context_probe.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace cnnb::cuda {

namespace {

static_assert(kStickyCudaErrors[0] == cudaErrorContained && kStickyCudaErrors[1] == cudaErrorIllegalAddress &&
              kStickyCudaErrors[2] == cudaErrorLaunchTimeout && kStickyCudaErrors[3] == cudaErrorAssert &&
              kStickyCudaErrors[4] == cudaErrorHardwareStackError &&
              kStickyCudaErrors[5] == cudaErrorIllegalInstruction &&
              kStickyCudaErrors[6] == cudaErrorMisalignedAddress &&
              kStickyCudaErrors[7] == cudaErrorInvalidAddressSpace && kStickyCudaErrors[8] == cudaErrorInvalidPc &&
              kStickyCudaErrors[9] == cudaErrorLaunchFailure && kStickyCudaErrors[10] == cudaErrorTensorMemoryLeak &&
              kStickyCudaErrors[11] == cudaErrorMpsClientTerminated &&
              kStickyCudaErrors[12] == cudaErrorExternalDevice);

std::string describe(int gpu, cudaError_t err) {
  return fmt::format("gpu:{}: {} ({})", gpu, cudaGetErrorName(err), cudaGetErrorString(err));
}

// The first error of making `gpu` current and waiting for all its work.
cudaError_t probe_device(int gpu) {
  cudaError_t err = cudaSetDevice(gpu);
  if (err == cudaSuccess) err = cudaDeviceSynchronize();
  return err;
}

}  // namespace

ContextHealth probe_context_health(std::span<const int> gpus) {
  ContextHealth h;
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
  return h;
}

}  // namespace cnnb::cuda
