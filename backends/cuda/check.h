#pragma once
// Checked CUDA runtime calls. The throwing side lives in check.cpp so that .cu files need neither
// fmt nor <stdexcept> from this header.
// C++17: included by .cu files.
#include <cuda_runtime_api.h>

namespace cnnb::cuda {

// Throws cnnb::Error: "<call text> failed: <cudaErrorName> (<cudaErrorString>) at file:line", followed
// for a sticky error (is_sticky_cuda_error, backends/context_health.h) by a note that the context is lost.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line);

}  // namespace cnnb::cuda

#define CNNB_CUDA_CHECK(expr)                                                        \
  do {                                                                               \
    const cudaError_t cnnb_cuda_err_ = (expr);                                       \
    if (cnnb_cuda_err_ != cudaSuccess)                                               \
      ::cnnb::cuda::throw_cuda_error(cnnb_cuda_err_, #expr, __FILE__, __LINE__);     \
  } while (0)

// After every <<<...>>>: catches launch errors (bad configuration, no kernel image for this GPU).
// cudaPeekAtLastError keeps a sticky error visible to the next check; errors that happen while the
// kernel runs surface at the next synchronizing call.
#define CNNB_CUDA_CHECK_LAUNCH()                                                     \
  do {                                                                               \
    const cudaError_t cnnb_cuda_err_ = cudaPeekAtLastError();                        \
    if (cnnb_cuda_err_ != cudaSuccess)                                               \
      ::cnnb::cuda::throw_cuda_error(cnnb_cuda_err_, "kernel launch", __FILE__, __LINE__); \
  } while (0)
