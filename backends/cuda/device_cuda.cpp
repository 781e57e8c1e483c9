// Device on one CUDA GPU: memory through cudaMalloc, every transfer ordered on the replica's stream.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <memory>
#include <string>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"
#include "backends/cuda/device_query.h"
#include "core/device.h"
#include "core/error.h"

namespace cnnb {

namespace {

class CudaDevice final : public Device {
 public:
  CudaDevice(int ordinal, std::string gpu_name) : cuda_(ordinal), gpu_name_(std::move(gpu_name)) {
    ctx_.kind = DeviceKind::cuda;
    ctx_.device = ordinal;
    ctx_.threads = 1;
    ctx_.cuda = &cuda_;
    cuda::ScopedDevice on(ordinal);
    CNNB_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  }
  ~CudaDevice() override {
    cuda::ScopedDevice on(cuda_.device);
    (void)cudaStreamSynchronize(copy_stream_);
    (void)cudaStreamDestroy(copy_stream_);
    (void)cudaGetLastError();
  }
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  const ExecCtx& ctx() const override { return ctx_; }
  std::string name() const override { return fmt::format("gpu:{} ({})", ctx_.device, gpu_name_); }

  void* alloc(size_t bytes) override {
    cuda::ScopedDevice on(cuda_.device);
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      fail("out of memory on {} allocating {} bytes", name(), bytes);
    }
    CNNB_CUDA_CHECK(err);
    return p;
  }
  // cudaFree waits for the device to be idle, so buffers may be freed with work still queued.
  void free(void* p) noexcept override {
    if (!p) return;
    cuda::ScopedDevice on(cuda_.device);
    (void)cudaFree(p);
    (void)cudaGetLastError();
  }
  // From pageable memory the source is staged before the call returns; from pinned memory the
  // caller must keep the source intact until the stream reaches the copy.
  void upload(void* dst, const void* host_src, size_t bytes) override {
    if (!bytes) return;
    cuda::ScopedDevice on(cuda_.device);
    CNNB_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cuda_.stream));
  }
  void download(void* host_dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    cuda::ScopedDevice on(cuda_.device);
    CNNB_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cuda_.stream));
    CNNB_CUDA_CHECK(cudaStreamSynchronize(cuda_.stream));
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    cuda::ScopedDevice on(cuda_.device);
    CNNB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_.stream));
  }
  void zero(void* p, size_t bytes) override {
    if (!bytes) return;
    cuda::ScopedDevice on(cuda_.device);
    CNNB_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_.stream));
  }
  void synchronize() override {
    cuda::ScopedDevice on(cuda_.device);
    CNNB_CUDA_CHECK(cudaStreamSynchronize(cuda_.stream));
  }
  void* alloc_host(size_t bytes) override {
    cuda::ScopedDevice on(cuda_.device);
    void* p = nullptr;
    const cudaError_t err = cudaMallocHost(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      fail("out of page-locked host memory allocating {} bytes for {}", bytes, name());
    }
    CNNB_CUDA_CHECK(err);
    return p;
  }
  void free_host(void* p) noexcept override {
    if (!p) return;
    (void)cudaFreeHost(p);
    (void)cudaGetLastError();
  }
  // Its own stream, so a background thread's copy runs while the replica's stream computes.
  void upload_now(void* dst, const void* host_src, size_t bytes) override {
    if (!bytes) return;
    cuda::ScopedDevice on(cuda_.device);
    CNNB_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, copy_stream_));
    CNNB_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
  }
  size_t workspace_bytes() const override { return cuda_.workspace_bytes(); }

 private:
  CudaCtx cuda_;  // before ctx_, which points at it
  ExecCtx ctx_;
  std::string gpu_name_;
  cudaStream_t copy_stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Device> make_cuda_device(int ordinal) {
  const cuda::CudaEnv env = cuda::cuda_environment();
  const int n = int(env.gpus.size());
  if (n == 0) fail_input("gpu:{} requested, but no CUDA GPU is usable here: {}", ordinal, env.error);
  if (ordinal < 0 || ordinal >= n)
    fail_input("gpu:{} requested, but this machine has {} CUDA GPU(s): gpu:0 .. gpu:{}", ordinal, n, n - 1);
  return std::make_unique<CudaDevice>(ordinal, env.gpus[size_t(ordinal)].name);
}

}  // namespace cnnb
