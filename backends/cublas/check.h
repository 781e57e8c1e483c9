#pragma once
// Checked cuBLAS calls. cuBLAS carries its own CUDA runtime, so cudaGetLastError never sees its
// failures: every cublasStatus_t is checked here. Host code only (.cpp).
#include <cublas_v2.h>

namespace cnnb::cublas {

// Throws cnnb::Error: "<call text> failed: CUBLAS_STATUS_... (<cublasGetStatusString>) at file:line".
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* what, const char* file, int line);

}  // namespace cnnb::cublas

#define CNNB_CUBLAS_CHECK(expr)                                                        \
  do {                                                                                 \
    const cublasStatus_t cnnb_cublas_status_ = (expr);                                 \
    if (cnnb_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                  \
      ::cnnb::cublas::throw_cublas_error(cnnb_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)
