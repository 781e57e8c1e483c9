#pragma once
// The CUDA half of an ExecCtx: one replica's device and stream. cuBLAS/cuDNN handles and the
// workspace join this struct when those backends arrive; kernels only ever use `stream`.
// C++17: included by .cu files.
#include <cuda_runtime_api.h>

#include "core/exec_ctx.h"

namespace cnnb {

struct CudaCtx {
  // Makes `device` current on the calling thread (the replica's thread), then creates the stream
  // there. Throws cnnb::Error if the device cannot be used.
  explicit CudaCtx(int device);
  ~CudaCtx();
  CudaCtx(const CudaCtx&) = delete;
  CudaCtx& operator=(const CudaCtx&) = delete;

  int device = 0;
  int sm_count = 0;
  // Non-blocking: the legacy default stream must not serialise replicas, nor this stream with
  // libraries that were handed stream 0.
  cudaStream_t stream = nullptr;
};

namespace cuda {

// The stream a CUDA kernel launches on; throws when the kernel was handed a CPU ExecCtx.
// Launches go to the calling thread's current device, which must be ctx.device.
cudaStream_t stream_of(const ExecCtx& ctx, const char* kernel);

// Makes `device` current for the guard's lifetime and restores the previous one afterwards, so a
// Device can be driven from any thread.
class ScopedDevice {
 public:
  explicit ScopedDevice(int device) noexcept;
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int previous_ = -1;
  bool switched_ = false;
};

}  // namespace cuda
}  // namespace cnnb
