#pragma once
// GPU time of one op call for cnnbench-micro: cudaEvents recorded on the device's stream around the call.
// With a cold cache the flush keeps the stream busy while the host prepares the call's first launch;
// with a warm one the stream is idle, so host work before that launch (a plan lookup) counts too.
// With a cold cache, a buffer of l2_flush_bytes() is overwritten on the same stream before the start
// event, so the flush is outside the timed span and the op finds none of its data in L2.
#include <cstddef>
#include <functional>
#include <memory>

#include "bench/micro/micro_flags.h"
#include "core/device.h"

namespace cnnb::micro {

// One op call's GPU time. Made by the GPU module (bench/micro/gpu_timer_cuda.cpp), which cnnbench-micro
// loads like the program does.
class OpTimer {
 public:
  virtual ~OpTimer() = default;
  // Seconds of GPU time of one call of `call`, which queues its work on the device's stream.
  virtual double time(const std::function<void()>& call) = 0;
  virtual size_t l2_bytes() const = 0;     // the device's L2 cache (cudaDevAttrL2CacheSize)
  virtual size_t flush_bytes() const = 0;  // overwritten before every timed call: 0 with a warm cache
};

// `dev` must be a CUDA device that outlives the timer. Throws when no GPU can be used.
std::unique_ptr<OpTimer> make_gpu_op_timer(Device& dev, CacheMode cache);

// The L2 cache of CUDA device `dev` (cudaDevAttrL2CacheSize), read without allocating anything.
size_t device_l2_bytes(const Device& dev);

struct GpuTimerTable {
  std::unique_ptr<OpTimer> (*make)(Device& dev, CacheMode cache);
  size_t (*l2_bytes)(const Device& dev);
};
inline constexpr const char* kGpuTimerTable = "cnnb_gpu_micro_timer";

}  // namespace cnnb::micro
