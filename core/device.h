#pragma once
// A device owns one replica's memory and its ExecCtx: the CPU (plain aligned host memory) or one
// CUDA GPU (device memory, a stream, library handles). The network and strategies only see this.
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/exec_ctx.h"

namespace cnnb {

class Device {
 public:
  virtual ~Device() = default;
  virtual const ExecCtx& ctx() const = 0;
  virtual std::string name() const = 0;  // "cpu:0", "gpu:1 (NVIDIA A100-SXM4-80GB)"
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* p) noexcept = 0;
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;    // ordered on the replica's stream
  virtual void download(void* host_dst, const void* src, size_t bytes) = 0;  // returns when the data is there
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;           // device to device
  virtual void zero(void* p, size_t bytes) = 0;
  virtual void synchronize() = 0;
  DeviceKind kind() const { return ctx().kind; }
};

std::unique_ptr<Device> make_cpu_device(int slot, int threads);

// Throws cnnb::Error when this build has no CUDA or the GPU does not exist.
std::unique_ptr<Device> make_cuda_device(int ordinal);

// Number of usable CUDA GPUs: 0 in a CPU-only build, without a driver, or without a GPU. Never throws.
int cuda_device_count();

// RAII array of T on a device.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Device& dev, size_t n) : dev_(&dev), n_(n) {
    if (n_) p_ = static_cast<T*>(dev.alloc(n_ * sizeof(T)));
  }
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer(std::move(o)).swap(*this);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (p_) dev_->free(p_);
  }

  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }
  Device& device() const { return *dev_; }

  void upload(const T* host, size_t n) { dev_->upload(p_, host, n * sizeof(T)); }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  void download(T* host, size_t n) const { dev_->download(host, p_, n * sizeof(T)); }
  std::vector<T> to_host() const {
    std::vector<T> h(n_);
    if (n_) download(h.data(), n_);
    return h;
  }
  void zero() {
    if (n_) dev_->zero(p_, bytes());
  }

 private:
  void swap(Buffer& o) noexcept {
    std::swap(dev_, o.dev_);
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
  }
  Device* dev_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace cnnb
