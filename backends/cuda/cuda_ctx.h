#pragma once
// The CUDA half of an ExecCtx: one replica's device and stream, its cuBLAS and cuDNN handles and its
// scratch memory. Kernels use `stream`; the library backends reach their handles through the
// accessors below. Handles are created on first use, on the replica's thread: cuda-naive never loads
// cuBLAS or cuDNN, and a machine whose cuDNN runtime is incomplete can still run it.
// C++17: included by .cu files. No cuBLAS/cuDNN header here: their handle types are only named.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>

#include "core/exec_ctx.h"

struct cublasContext;  // cublasHandle_t is cublasContext* (cublas_api.h)
struct cudnnContext;   // cudnnHandle_t is cudnnContext* (cudnn_graph.h)

namespace cnnb {

namespace cudnn {
class Plans;  // descriptors and algorithm choices per geometry: backends/cudnn/plans.h
}

struct CudaCtx {
  // Makes `device` current on the calling thread (the replica's thread), then creates the stream
  // there. Throws cnnb::Error if the device cannot be used.
  explicit CudaCtx(int device);
  // Drains the stream, then releases everything in the reverse order of creation: cuDNN plans,
  // cuDNN handle, cuBLAS handle, workspace, stream.
  ~CudaCtx();
  CudaCtx(const CudaCtx&) = delete;
  CudaCtx& operator=(const CudaCtx&) = delete;

  int device = 0;
  int sm_count = 0;
  // Non-blocking: the legacy default stream must not serialise replicas, nor this stream with
  // libraries that were handed stream 0.
  cudaStream_t stream = nullptr;

  // cuBLAS handle bound to `stream`; FP32 math (CUBLAS_DEFAULT_MATH: no TF32), host pointer mode,
  // no atomics. Created on first call.
  cublasContext* cublas();
#if CNNB_HAVE_CUDNN
  // cuDNN handle bound to `stream`. Created on first call.
  cudnnContext* cudnn();
  // The cuDNN descriptors and algorithm choices made so far, per geometry (created with the handle).
  cudnn::Plans& cudnn_plans();
#endif

  // At least `bytes` of device scratch memory: im2col columns, cuDNN workspaces, softmax rows. One
  // buffer serves every op of the replica, since they run one after another on `stream`. It grows on
  // demand and never shrinks; growing waits for the stream first (queued work may still read the old
  // buffer), so a pointer from an earlier call is invalid after a call that asks for more.
  void* workspace(size_t bytes);
  size_t workspace_bytes() const;

 private:
  struct Libs;  // handles, workspace and plans, in creation order (cuda_ctx.cpp)
  struct LibsDeleter {
    void operator()(Libs* l) const noexcept;
  };
  Libs& libs();
  std::unique_ptr<Libs, LibsDeleter> libs_;
};

namespace cuda {

// The stream a CUDA kernel launches on; throws when the kernel was handed a CPU ExecCtx. A launch on it
// must have ctx.device current (launch.cuh's launchers guard it with a ScopedDevice).
cudaStream_t stream_of(const ExecCtx& ctx, const char* kernel);

// The CudaCtx of a CUDA ExecCtx (for the library backends); throws like stream_of.
CudaCtx& cuda_of(const ExecCtx& ctx, const char* kernel);

// Inside a catch block: rethrows the exception in flight with `kernel: ` in front of its message (keeping
// its type, InputError or Error), so a library or CUDA error names the op and variant it happened in.
// Other exception types pass unchanged.
[[noreturn]] void rethrow_in(const char* kernel);

// Workspace growth: 0 when `have` already holds `need` bytes, else `need` rounded up to whole MiB
// (so a sequence of slightly larger requests does not reallocate every time).
size_t workspace_growth(size_t have, size_t need);

// The three runtime calls a device guard needs, apart so the host tests can drive BasicScopedDevice
// with a fake device. Each returns whether the call succeeded.
struct RuntimeDevice {
  bool get(int* device) const noexcept;  // cudaGetDevice; false when the thread has no context yet
  bool set(int device) const noexcept;   // cudaSetDevice
  // A failed get or set must not linger in the last-error slot, where CNNB_CUDA_CHECK_LAUNCH would blame
  // a kernel launch for it; the failure shows up again in the caller's next checked call.
  void clear_error() const noexcept;     // cudaGetLastError
};

// Makes `device` current for the guard's lifetime, then restores the caller's device whatever the code
// inside switched to (so a Device can be driven from any thread, and a scope that calls cudaSetDevice
// for other GPUs still hands its caller back the device it had). Cheap: one get and at most one set on
// each side. Never throws: also used in destructors and Device::free.
template <class Api>
class BasicScopedDevice {
 public:
  explicit BasicScopedDevice(int device, Api api = Api()) noexcept : api_(api) {
    if (!api_.get(&previous_)) {
      previous_ = -1;
      api_.clear_error();
    }
    if (previous_ != device && !api_.set(device)) api_.clear_error();
  }
  ~BasicScopedDevice() {
    if (previous_ < 0) return;  // no device to go back to (no driver, or no device was ever current)
    int now = -1;
    if (api_.get(&now) && now == previous_) return;
    if (!api_.set(previous_)) api_.clear_error();
  }
  BasicScopedDevice(const BasicScopedDevice&) = delete;
  BasicScopedDevice& operator=(const BasicScopedDevice&) = delete;

 private:
  Api api_;
  int previous_ = -1;
};

using ScopedDevice = BasicScopedDevice<RuntimeDevice>;

}  // namespace cuda
}  // namespace cnnb
