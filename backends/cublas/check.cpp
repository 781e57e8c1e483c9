#include "backends/cublas/check.h"

#include "core/error.h"

namespace cnnb::cublas {

void throw_cublas_error(cublasStatus_t status, const char* what, const char* file, int line) {
  fail("{} failed: {} ({}) at {}:{}", what, cublasGetStatusName(status), cublasGetStatusString(status), file, line);
}

}  // namespace cnnb::cublas
