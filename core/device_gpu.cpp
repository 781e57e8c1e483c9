#include "core/device.h"
#include "core/error.h"
#include "core/gpu_module.h"

namespace cnnb {

std::unique_ptr<Device> make_cuda_device(int ordinal) {
  if (const std::string& why = gpu_module_unavailable(); !why.empty())
    fail_input("gpu:{} requested, but no GPU can be used: {}", ordinal, why);
  return gpu_module_table<GpuDeviceTable>(kGpuDeviceTable).make_device(ordinal);
}

int cuda_device_count() {
  if (!gpu_module_unavailable().empty()) return 0;
  return gpu_module_table<GpuDeviceTable>(kGpuDeviceTable).device_count();
}

}  // namespace cnnb
