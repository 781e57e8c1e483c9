#include "bench/micro/gpu_timer.h"

#include "core/gpu_module.h"

namespace cnnb::micro {

std::unique_ptr<OpTimer> make_gpu_op_timer(Device& dev, CacheMode cache) {
  return gpu_module_table<GpuTimerTable>(kGpuTimerTable).make(dev, cache);
}

size_t device_l2_bytes(const Device& dev) { return gpu_module_table<GpuTimerTable>(kGpuTimerTable).l2_bytes(dev); }

}  // namespace cnnb::micro
