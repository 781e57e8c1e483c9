#include "backends/cuda/check.h"

#include "backends/context_health.h"
#include "core/error.h"

namespace cnnb::cuda {

void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  // Reset the last-error slot so that the next launch check does not report this error again
  // (sticky errors such as cudaErrorIllegalAddress stay: every later call returns them).
  (void)cudaGetLastError();
  fail("{} failed: {} ({}) at {}:{}{}", what, cudaGetErrorName(err), cudaGetErrorString(err), file, line,
       is_sticky_cuda_error(int(err)) ? "; the CUDA context is lost: every later CUDA call in this process fails"
                                      : "");
}

}  // namespace cnnb::cuda
