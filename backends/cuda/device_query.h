#pragma once
// cuda_environment() where CUDA is compiled: asks the runtime, cuBLAS, cuDNN and NCCL (when linked)
// what they are, and the runtime which GPUs it sees. Host-only and safe without a driver or a GPU:
// nothing here throws. The data and its JSON and text are in backends/cuda_environment.h.
#include "backends/cuda_environment.h"
