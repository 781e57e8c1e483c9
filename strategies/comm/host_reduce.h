#pragma once
// Element-wise reduction of the replicas' buffers on the host, shared by the threads and mpi
// communicators. Every element is summed in replica order whatever the split over threads, so a
// result is the same bit for bit from run to run. CPU replicas' buffers are reduced in place;
// buffers on other devices are staged through each device's host memory (page-locked on a GPU, so the
// copies run at full PCIe speed), every replica's copy on a thread of its own, as GPUs copy in parallel.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/device.h"
#include "strategies/worker.h"

namespace cnnb {

class HostReducer {
 public:
  // `threads`: how many threads (the caller and threads - 1 helpers) share one reduction.
  HostReducer(std::vector<Device*> devices, int threads);

  // Host pointers to bufs' contents: the buffers themselves on CPU devices, otherwise downloaded copies.
  std::span<float* const> host_views(std::span<float* const> bufs, int64_t count);
  // Uploads the staged copies made by the last host_views back to their devices, and waits for them.
  void write_back(std::span<float* const> bufs, int64_t count);

  // out[i] = views[0][i] + views[1][i] + ... (out may be views[0]).
  void sum(std::span<float* const> views, int64_t count, float* out);
  // Every views[r][i] = (views[0][i] + ... + views[R-1][i]) / divisor.
  void mean_in_place(std::span<float* const> views, int64_t count, float divisor);
  // Every views[r][i] = src[i] / divisor.
  void assign_divided(std::span<float* const> views, int64_t count, const float* src, float divisor);

 private:
  void parallel(int64_t count, const std::function<void(int64_t, int64_t)>& fn);
  bool staged(size_t r) const { return devices_[r]->kind() != DeviceKind::cpu; }
  // fn(r) for every staged replica r, each on its own thread when several are staged.
  template <class Fn>
  void each_staged(const Fn& fn);

  std::vector<Device*> devices_;
  std::vector<HostBuffer<float>> staging_;  // per staged replica, in its device's host memory; grows, never shrinks
  std::vector<float*> views_;
  std::vector<std::unique_ptr<Worker>> helpers_;  // helpers_[0] stays idle: slice 0 runs on the caller
  std::vector<std::unique_ptr<Worker>> copiers_;  // one per replica when several are staged; [0] idle likewise
};

}  // namespace cnnb
