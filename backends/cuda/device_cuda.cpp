// Device on one CUDA GPU: memory through cudaMalloc, every transfer ordered on the replica's stream.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"
#include "backends/cuda/device_query.h"
#include "core/device.h"
#include "core/error.h"

namespace cnnb {

namespace {

// CUDA events on the replica's stream, created once with timing enabled (cudaEventDefault; events made
// with cudaEventDisableTiming cannot be timed).
class EventStepClock final : public StepClock {
 public:
  EventStepClock(const CudaCtx& cuda, int marks) : device_(cuda.device), stream_(cuda.stream) {
    CNNB_CHECK(marks >= 2, "a step clock needs at least 2 marks, got {}", marks);
    cuda::ScopedDevice on(device_);
    events_.reserve(size_t(marks));
    try {
      for (int i = 0; i < marks; ++i) {
        cudaEvent_t e = nullptr;
        CNNB_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDefault));
        events_.push_back(e);
      }
    } catch (...) {
      release();
      throw;
    }
  }
  ~EventStepClock() override { release(); }
  EventStepClock(const EventStepClock&) = delete;
  EventStepClock& operator=(const EventStepClock&) = delete;

  void mark(int i) override {
    cuda::ScopedDevice on(device_);
    CNNB_CUDA_CHECK(cudaEventRecord(event(i), stream_));
  }
  double seconds(int a, int b) const override {
    cuda::ScopedDevice on(device_);
    float ms = 0;
    CNNB_CUDA_CHECK(cudaEventElapsedTime(&ms, event(a), event(b)));
    return double(ms) / 1e3;
  }
  int marks() const override { return int(events_.size()); }

 private:
  cudaEvent_t event(int i) const {
    CNNB_ASSERT(i >= 0 && size_t(i) < events_.size());
    return events_[size_t(i)];
  }
  void release() noexcept {
    cuda::ScopedDevice on(device_);
    for (cudaEvent_t e : events_) (void)cudaEventDestroy(e);
    events_.clear();
    (void)cudaGetLastError();
  }
  int device_;
  cudaStream_t stream_;
  std::vector<cudaEvent_t> events_;
};

// Free and total memory of the current device, as the driver sees it.
std::pair<size_t, size_t> free_and_total() {
  size_t available = 0, total = 0;
  CNNB_CUDA_CHECK(cudaMemGetInfo(&available, &total));
  return {available, total};
}

class CudaDevice final : public Device {
 public:
  CudaDevice(int ordinal, std::string gpu_name) : cuda_(ordinal), gpu_name_(std::move(gpu_name)) {
    ctx_.kind = DeviceKind::cuda;
    ctx_.device = ordinal;
    ctx_.threads = 1;
    ctx_.cuda = &cuda_;
    cuda::ScopedDevice on(ordinal);
    // The context exists (CudaCtx made its stream) and nothing of this replica is allocated yet.
    // Read before the copy stream is made: a throw after it would leak it, the destructor not running.
    const auto [available, total] = free_and_total();
    used_at_start_ = total - available;
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
  void download_async(void* host_dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    cuda::ScopedDevice on(cuda_.device);
    CNNB_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cuda_.stream));
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
    try {
      const std::lock_guard lock(pinned_m_);
      pinned_[p] = bytes;
    } catch (...) {
      (void)cudaFreeHost(p);
      throw;
    }
    return p;
  }
  void free_host(void* p) noexcept override {
    if (!p) return;
    {
      // Forgotten before it is freed: once freed, another thread's alloc_host may get the same address.
      const std::lock_guard lock(pinned_m_);
      pinned_.erase(p);
    }
    cuda::ScopedDevice on(cuda_.device);
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
  std::unique_ptr<StepClock> make_step_clock(int marks) override {
    return std::make_unique<EventStepClock>(cuda_, marks);
  }
  std::optional<DeviceMemoryUse> memory_use() const override {
    cuda::ScopedDevice on(cuda_.device);
    const auto [available, total] = free_and_total();
    DeviceMemoryUse m{total, total - available, used_at_start_, 0};
    const std::lock_guard lock(pinned_m_);
    for (const auto& [p, bytes] : pinned_) m.pinned_host += bytes;
    return m;
  }

 private:
  CudaCtx cuda_;  // before ctx_, which points at it
  ExecCtx ctx_;
  std::string gpu_name_;
  cudaStream_t copy_stream_ = nullptr;
  size_t used_at_start_ = 0;
  mutable std::mutex pinned_m_;  // alloc_host runs on the replica's and the loader's threads
  std::unordered_map<void*, size_t> pinned_;
};

}  // namespace

std::unique_ptr<Device> cuda::make_device(int ordinal) {
  const cuda::CudaEnv env = cuda::query_environment();
  const int n = int(env.gpus.size());
  if (n == 0) fail_input("gpu:{} requested, but no CUDA GPU is usable here: {}", ordinal, env.error);
  if (ordinal < 0 || ordinal >= n)
    fail_input("gpu:{} requested, but this machine has {} CUDA GPU(s): gpu:0 .. gpu:{}", ordinal, n, n - 1);
  return std::make_unique<CudaDevice>(ordinal, env.gpus[size_t(ordinal)].name);
}

}  // namespace cnnb
