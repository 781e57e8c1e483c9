#include "backends/cudnn/check.h"

#include "core/error.h"

namespace cnnb::cudnn {

void throw_cudnn_error(cudnnStatus_t status, const char* what, const char* file, int line) {
  fail("{} failed: {} at {}:{}", what, cudnnGetErrorString(status), file, line);
}

}  // namespace cnnb::cudnn
