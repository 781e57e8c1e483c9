#include "bench/micro/gpu_timer.h"

// The GPU module's side of bench/micro/gpu_timer.h.
#include <cuda_runtime_api.h>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"
#include "core/error.h"

namespace cnnb::micro {

namespace {

// Each resource is made and released with its device current, under a guard of its own, so that the
// timer never leaves the calling thread on another device.
class Event {
 public:
  explicit Event(int device) : device_(device) {
    const cuda::ScopedDevice on(device_);
    CNNB_CUDA_CHECK(cudaEventCreate(&e_));
  }
  ~Event() {
    const cuda::ScopedDevice on(device_);
    (void)cudaEventDestroy(e_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  int device_;
  cudaEvent_t e_ = nullptr;
};

class DeviceBytes {
 public:
  DeviceBytes(int device, size_t n) : device_(device), n_(n) {
    const cuda::ScopedDevice on(device_);
    if (n_) CNNB_CUDA_CHECK(cudaMalloc(&p_, n_));
  }
  ~DeviceBytes() {
    if (!p_) return;
    const cuda::ScopedDevice on(device_);
    (void)cudaFree(p_);
  }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  void* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  int device_;
  void* p_ = nullptr;
  size_t n_ = 0;
};

const CudaCtx& cuda_ctx(const Device& dev) {
  CNNB_CHECK(dev.ctx().kind == DeviceKind::cuda && dev.ctx().cuda, "GpuOpTimer needs a CUDA device, got {}",
             dev.name());
  return *dev.ctx().cuda;
}

size_t l2_size(int device) {
  int bytes = 0;
  CNNB_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrL2CacheSize, device));
  return size_t(bytes);
}

class GpuOpTimer final : public OpTimer {
 public:
  GpuOpTimer(Device& dev, CacheMode cache)
      : device_(cuda_ctx(dev).device),
        stream_(cuda_ctx(dev).stream),
        l2_(l2_size(device_)),
        start_(device_),
        stop_(device_),
        flush_(device_, cache == CacheMode::cold ? l2_flush_bytes(l2_) : 0) {}

  double time(const std::function<void()>& call) override {
    const cuda::ScopedDevice here(device_);
    if (flush_.get()) CNNB_CUDA_CHECK(cudaMemsetAsync(flush_.get(), 0, flush_.size(), stream_));
    CNNB_CUDA_CHECK(cudaEventRecord(start_.get(), stream_));
    call();
    CNNB_CUDA_CHECK(cudaEventRecord(stop_.get(), stream_));
    CNNB_CUDA_CHECK(cudaEventSynchronize(stop_.get()));
    float ms = 0;
    CNNB_CUDA_CHECK(cudaEventElapsedTime(&ms, start_.get(), stop_.get()));
    return double(ms) * 1e-3;
  }
  size_t l2_bytes() const override { return l2_; }
  size_t flush_bytes() const override { return flush_.size(); }

 private:
  int device_;
  cudaStream_t stream_;
  size_t l2_;
  Event start_, stop_;
  DeviceBytes flush_;
};

std::unique_ptr<OpTimer> make_timer(Device& dev, CacheMode cache) { return std::make_unique<GpuOpTimer>(dev, cache); }

size_t device_l2(const Device& dev) { return l2_size(cuda_ctx(dev).device); }

}  // namespace

}  // namespace cnnb::micro

extern "C" const cnnb::micro::GpuTimerTable cnnb_gpu_micro_timer{&cnnb::micro::make_timer, &cnnb::micro::device_l2};
