#pragma once
// A device owns one replica's memory and its ExecCtx: the CPU (plain aligned host memory) or one
// CUDA GPU (device memory, a stream, library handles). The network and strategies only see this.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/exec_ctx.h"
#include "core/step_clock.h"

namespace cnnb {

// What the driver reports of a GPU's memory (cudaMemGetInfo). The itemised figure of the run record
// (memory.replica_bytes) leaves out the CUDA context, cuBLAS/cuDNN/NCCL's own buffers and pinned host
// memory; these figures hold all of it, and other processes' use of the GPU too.
struct DeviceMemoryUse {
  size_t total = 0;          // the GPU's memory
  size_t used = 0;           // total - free now: what nvidia-smi's "used" column shows
  size_t used_at_start = 0;  // the same when this device was made: after its CUDA context, before its allocations
  size_t pinned_host = 0;    // page-locked host memory from alloc_host, not yet freed
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const ExecCtx& ctx() const = 0;
  virtual std::string name() const = 0;  // "cpu:0", "gpu:1 (NVIDIA A100-SXM4-80GB)"
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* p) noexcept = 0;
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;    // ordered on the replica's stream
  virtual void download(void* host_dst, const void* src, size_t bytes) = 0;  // returns when the data is there
  // Queued on the replica's stream; the data is there after synchronize(). Asynchronous on a GPU only
  // into alloc_host memory (from pageable memory the copy completes before the call returns). A device
  // whose copies return when done needs nothing but download().
  virtual void download_async(void* host_dst, const void* src, size_t bytes) { download(host_dst, src, bytes); }
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;           // device to device
  virtual void zero(void* p, size_t bytes) = 0;
  virtual void synchronize() = 0;
  // Host memory the device copies from and to at full speed: page-locked on a GPU (so copies can run
  // asynchronously and overlap compute), plain aligned memory on the CPU.
  virtual void* alloc_host(size_t bytes) = 0;
  virtual void free_host(void* p) noexcept = 0;
  // Copies host -> device on a stream of its own and returns when the data is there: callable from a
  // background thread (the prefetch pipeline) while the replica's stream computes. The destination
  // must not be in use by queued compute.
  virtual void upload_now(void* dst, const void* host_src, size_t bytes) = 0;
  // Bytes the ops' scratch memory holds now (it grows to its peak during the first step): the CPU
  // workspace, or cuDNN/cuBLAS/im2col scratch on a GPU.
  virtual size_t workspace_bytes() const = 0;
  // Marks that time a step's phases on this device's queue without synchronizing it: CUDA events on a
  // GPU; host timestamps on a device whose ops return when done (the CPU).
  virtual std::unique_ptr<StepClock> make_step_clock(int marks) { return make_host_step_clock(marks); }
  // The driver's figures of the GPU's memory; none on the CPU.
  virtual std::optional<DeviceMemoryUse> memory_use() const { return std::nullopt; }
  DeviceKind kind() const { return ctx().kind; }
};

std::unique_ptr<Device> make_cpu_device(int slot, int threads);

// Both load the GPU module (core/gpu_module.h) and ask it.
// Throws InputError when no GPU can be used (naming why) or the GPU does not exist.
std::unique_ptr<Device> make_cuda_device(int ordinal);

// Number of usable CUDA GPUs: 0 in a CPU-only build, without the GPU module's libraries, without a
// driver, or without a GPU. Never throws.
int cuda_device_count();

// The GPU module's devices, which make_cuda_device and cuda_device_count forward to.
struct GpuDeviceTable {
  std::unique_ptr<Device> (*make_device)(int ordinal);
  int (*device_count)();
};
inline constexpr const char* kGpuDeviceTable = "cnnb_gpu_devices";

// An array of T that a Device allocated and frees: in its own memory (Buffer) or in its host memory,
// pinned on a GPU (HostBuffer). One owner, movable, never copied.
template <class T, class Memory>
class DeviceArray {
  static_assert(std::is_trivially_copyable_v<T>, "device arrays hold plain data that is copied byte-wise");

 public:
  DeviceArray() = default;
  DeviceArray(Device& dev, size_t n) : dev_(&dev), n_(n) {
    if (n_) p_ = static_cast<T*>(Memory::alloc(dev, n_ * sizeof(T)));
  }
  DeviceArray(DeviceArray&& o) noexcept { swap(o); }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    DeviceArray(std::move(o)).swap(*this);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }
  Device& device() const { return *dev_; }

 protected:
  // Only as a Buffer or HostBuffer, never deleted through a pointer to this base.
  ~DeviceArray() {
    if (p_) Memory::free(*dev_, p_);
  }

 private:
  void swap(DeviceArray& o) noexcept {
    std::swap(dev_, o.dev_);
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
  }
  Device* dev_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

namespace memory {
struct OnDevice {
  static void* alloc(Device& d, size_t bytes) { return d.alloc(bytes); }
  static void free(Device& d, void* p) noexcept { d.free(p); }
};
struct HostOfDevice {
  static void* alloc(Device& d, size_t bytes) { return d.alloc_host(bytes); }
  static void free(Device& d, void* p) noexcept { d.free_host(p); }
};
}  // namespace memory

// An array of T in a device's memory, reached through the device's copies.
template <class T>
class Buffer final : public DeviceArray<T, memory::OnDevice> {
  using Base = DeviceArray<T, memory::OnDevice>;

 public:
  using Base::Base;
  using Base::bytes;
  using Base::data;
  using Base::device;
  using Base::size;

  void upload(const T* host, size_t n) { device().upload(data(), host, n * sizeof(T)); }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  void download(T* host, size_t n) const { device().download(host, data(), n * sizeof(T)); }
  std::vector<T> to_host() const {
    std::vector<T> h(size());
    if (!h.empty()) download(h.data(), h.size());
    return h;
  }
  void zero() {
    if (size()) device().zero(data(), bytes());
  }
};

// An array of T in a device's host memory (pinned on a GPU, so that its copies overlap compute),
// read and written in place.
template <class T>
class HostBuffer final : public DeviceArray<T, memory::HostOfDevice> {
  using Base = DeviceArray<T, memory::HostOfDevice>;

 public:
  using Base::Base;
  using Base::data;
  using Base::size;

  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T* begin() { return data(); }
  T* end() { return data() + size(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
};

}  // namespace cnnb
