#pragma once
// What the GPU module answers for cuda_environment() and cuda_device_count() (backends/gpu_backends.cpp,
// core/device_gpu.cpp forward to these): asks the runtime, cuBLAS, cuDNN and NCCL what they are, and the
// runtime which GPUs it sees. Host-only and safe without a driver or a GPU: nothing here throws. The data
// and its JSON and text are in backends/cuda_environment.h.
#include <memory>

#include "backends/cuda_environment.h"
#include "core/device.h"

namespace cnnb::cuda {

CudaEnv query_environment();

// Usable GPUs: 0 without a driver or a GPU.
int device_count();

// A replica's GPU: throws InputError when `ordinal` is not a usable GPU.
std::unique_ptr<Device> make_device(int ordinal);

}  // namespace cnnb::cuda
