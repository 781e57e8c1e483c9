#include "backends/cuda/cuda_ctx.h"

#include "backends/cuda/check.h"
#include "core/device.h"
#include "core/error.h"

namespace cnnb {

CudaCtx::CudaCtx(int dev) : device(dev) {
  CNNB_CUDA_CHECK(cudaSetDevice(device));
  CNNB_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  CNNB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
}

CudaCtx::~CudaCtx() {
  if (!stream) return;
  cuda::ScopedDevice on(device);
  // Destroying a stream with work in flight is legal, but the work would outlive its buffers'
  // owners' expectations: drain it first. Errors cannot be thrown from here.
  (void)cudaStreamSynchronize(stream);
  (void)cudaStreamDestroy(stream);
  (void)cudaGetLastError();
}

namespace cuda {

cudaStream_t stream_of(const ExecCtx& ctx, const char* kernel) {
  if (ctx.kind != DeviceKind::cuda || ctx.cuda == nullptr)
    fail("{} is a CUDA kernel but was given the ExecCtx of {}:{}", kernel, device_kind_name(ctx.kind), ctx.device);
  return ctx.cuda->stream;
}

// Never throws: also used in destructors and Device::free.
ScopedDevice::ScopedDevice(int device) noexcept {
  if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
  if (previous_ != device) switched_ = cudaSetDevice(device) == cudaSuccess;
  // A failed call here shows up again in the caller's next checked call; it must not linger in
  // the last-error slot where CNNB_CUDA_CHECK_LAUNCH would blame a kernel launch for it.
  (void)cudaGetLastError();
}

ScopedDevice::~ScopedDevice() {
  if (switched_ && previous_ >= 0) (void)cudaSetDevice(previous_);
}

}  // namespace cuda
}  // namespace cnnb
