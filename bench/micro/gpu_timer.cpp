#include "bench/micro/gpu_timer.h"

#include "core/error.h"

#if CNNB_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"
#endif

namespace cnnb::micro {

#if CNNB_HAVE_CUDA

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

}  // namespace

struct GpuOpTimer::State {
  int device;
  cudaStream_t stream;
  size_t l2;
  Event start, stop;
  DeviceBytes flush;
  size_t flush_bytes;

  State(Device& dev, CacheMode cache)
      : device(cuda_ctx(dev).device),
        stream(cuda_ctx(dev).stream),
        l2(l2_size(device)),
        start(device),
        stop(device),
        flush(device, cache == CacheMode::cold ? l2_flush_bytes(l2) : 0),
        flush_bytes(flush.size()) {}

  double time(const std::function<void()>& call) {
    const cuda::ScopedDevice here(device);
    if (flush.get()) CNNB_CUDA_CHECK(cudaMemsetAsync(flush.get(), 0, flush.size(), stream));
    CNNB_CUDA_CHECK(cudaEventRecord(start.get(), stream));
    call();
    CNNB_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    CNNB_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float ms = 0;
    CNNB_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    return double(ms) * 1e-3;
  }
};

#else

struct GpuOpTimer::State {
  size_t l2 = 0, flush_bytes = 0;
  State(Device&, CacheMode) { fail("GpuOpTimer: this cnnbench-micro was built without CUDA"); }
  double time(const std::function<void()>&) { return 0; }
};

#endif

#if CNNB_HAVE_CUDA
size_t device_l2_bytes(const Device& dev) { return l2_size(cuda_ctx(dev).device); }
#else
size_t device_l2_bytes(const Device&) { fail("device_l2_bytes: this cnnbench-micro was built without CUDA"); }
#endif

GpuOpTimer::GpuOpTimer(Device& dev, CacheMode cache) : s_(std::make_unique<State>(dev, cache)) {}
GpuOpTimer::~GpuOpTimer() = default;
double GpuOpTimer::time(const std::function<void()>& call) { return s_->time(call); }
size_t GpuOpTimer::l2_bytes() const { return s_->l2; }
size_t GpuOpTimer::flush_bytes() const { return s_->flush_bytes; }

}  // namespace cnnb::micro
