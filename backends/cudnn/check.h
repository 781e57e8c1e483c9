#pragma once
// Checked cuDNN calls. cuDNN carries its own CUDA runtime, so cudaGetLastError never sees its
// failures: every cudnnStatus_t is checked here. Host code only (.cpp).
#include <cudnn.h>

namespace cnnb::cudnn {

// Throws cnnb::Error: "<call text> failed: <cudnnGetErrorString> at file:line".
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* what, const char* file, int line);

}  // namespace cnnb::cudnn

#define CNNB_CUDNN_CHECK(expr)                                                       \
  do {                                                                               \
    const cudnnStatus_t cnnb_cudnn_status_ = (expr);                                 \
    if (cnnb_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                  \
      ::cnnb::cudnn::throw_cudnn_error(cnnb_cudnn_status_, #expr, __FILE__, __LINE__); \
  } while (0)
