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

// The L2 cache of CUDA device `dev` (cudaDevAttrL2CacheSize), read without allocating anything.
// Throws in a build without CUDA.
size_t device_l2_bytes(const Device& dev);

class GpuOpTimer {
 public:
  // `dev` must be a CUDA device that outlives the timer. Throws in a build without CUDA.
  GpuOpTimer(Device& dev, CacheMode cache);
  ~GpuOpTimer();
  GpuOpTimer(const GpuOpTimer&) = delete;
  GpuOpTimer& operator=(const GpuOpTimer&) = delete;

  // Seconds of GPU time of one call of `call`, which queues its work on the device's stream.
  double time(const std::function<void()>& call);

  size_t l2_bytes() const;     // the device's L2 cache (cudaDevAttrL2CacheSize)
  size_t flush_bytes() const;  // overwritten before every timed call: 0 with a warm cache

 private:
  struct State;  // events and flush buffer (gpu_timer.cpp)
  std::unique_ptr<State> s_;
};

}  // namespace cnnb::micro
